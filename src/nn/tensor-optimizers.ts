// The optimizers of optimizers.ts as a handful of tensor ops over [R, n]
// backend tensors (R particles of one group), for device-resident training:
// parameters, gradients and slots never leave the backend. Per-row learning
// rates and bias corrections travel as [R, 1] columns, so one call updates the
// whole group. Same PyTorch rules, term for term, as the host loops (which keep
// float64 intermediates; these stay float32: equal within ~1e-6 per step).
import { tf } from '../util/tf';
import { OptimizerConfig, RowUpdate } from './optimizers';

export interface TensorState {
  params: tf.Tensor;
  /** In the optimizer's slotNames order. */
  slots: tf.Tensor[];
}

/** The updated parameters and slots of R rows (params, grads, slots all [R, n]). Call inside tf.tidy. */
export function tensorUpdate(config: OptimizerConfig, state: TensorState, grads: tf.Tensor, rows: readonly RowUpdate[], maximize = false): TensorState {
  if (rows.length !== state.params.shape[0]) throw new Error(`tensor optimizer: ${rows.length} row updates for ${state.params.shape[0]} rows`);
  const column = (f: (u: RowUpdate) => number) => tf.tensor2d(Float32Array.from(rows, f), [rows.length, 1]);
  const g = maximize ? tf.neg(grads) : grads;
  return config.type === 'sgd' ? sgdUpdate(config, state, g, rows, column) : adamUpdate(config, state, g, rows, column);
}

type Column = (f: (u: RowUpdate) => number) => tf.Tensor;

function sgdUpdate(config: Extract<OptimizerConfig, { type: 'sgd' }>, state: TensorState, grad: tf.Tensor, rows: readonly RowUpdate[], column: Column): TensorState {
  const { momentum, dampening, nesterov, weightDecay } = config;
  const p = state.params;
  let g = weightDecay !== 0 ? tf.add(grad, tf.mul(p, weightDecay)) : grad;
  const slots: tf.Tensor[] = [];
  if (momentum !== 0) {
    // PyTorch sets the buffer to the gradient on a row's first step.
    const firsts = rows.filter((u) => u.step === 1).length;
    const later = () => tf.add(tf.mul(state.slots[0], momentum), tf.mul(g, 1 - dampening));
    let b: tf.Tensor;
    if (firsts === rows.length) b = tf.clone(g); // never the caller's gradient tensor itself
    else if (firsts === 0) b = later();
    else b = tf.where(tf.cast(column((u) => (u.step === 1 ? 1 : 0)), 'bool'), g, later());
    slots.push(b);
    g = nesterov ? tf.add(g, tf.mul(b, momentum)) : b;
  }
  return { params: tf.sub(p, tf.mul(column((u) => u.lr), g)), slots };
}

function adamUpdate(config: Extract<OptimizerConfig, { type: 'adam' | 'adamw' }>, state: TensorState, grad: tf.Tensor, rows: readonly RowUpdate[], column: Column): TensorState {
  const [beta1, beta2] = config.betas;
  const { eps, weightDecay } = config;
  const decoupled = config.type === 'adamw';
  const [expAvg, expAvgSq] = state.slots;
  let p = state.params;
  let g = grad;
  if (decoupled) p = tf.mul(p, column((u) => 1 - u.lr * weightDecay));
  else if (weightDecay !== 0) g = tf.add(g, tf.mul(p, weightDecay));
  // exp_avg.lerp_(g, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2)
  const m = tf.add(expAvg, tf.mul(tf.sub(g, expAvg), 1 - beta1));
  const v = tf.add(tf.mul(expAvgSq, beta2), tf.mul(tf.mul(g, 1 - beta2), g));
  const stepSize = column((u) => u.lr / (1 - beta1 ** u.step));
  const bc2Sqrt = column((u) => Math.sqrt(1 - beta2 ** u.step));
  const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
  return { params: tf.sub(p, tf.div(tf.mul(stepSize, m), denom)), slots: [m, v] };
}
