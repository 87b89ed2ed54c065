// The explicit dense pass of ONE particle for wider ReLU/linear dense stacks
// (layers larger than the bias-folded pass takes, e.g. MLP 784-256-256-10) on
// the per-particle loop (wasm, cpu), with its kernels run outside the engine
// (kernel-runner.ts: no kernel lookup, scopes or tidy per kernel). Per dense layer:
//   forward   1 matMul with bias and ReLU fused;
//   backward  the ReLU gradient and the bias gradient in ONE host pass over d
//             (host-kernels.ts: d * (y > 0) and its column sums, written
//             straight into the gradient row: no ones-row matMul);
//             h^T (1 transpose; x^T once per batch, shared by the group's
//             particles) @ d gives dW, read in place from wasm's heap;
//             d @ W^T (W^T by the backend's transpose of the uploaded W) gives
//             the input gradient.
// Gradients equal autodiff's to float rounding (the bias gradient is summed
// in float64).
import { tf } from '../util/tf';
import { Loss } from './losses';
import type { Network, PlanStep } from './network-api';
import { backendAliasesUploads, reshapeInput } from './shapes';
import { Info, Runner, RunnerKind, kernelRunner } from './kernel-runner';
import { FOLDED_MAX_LAYER } from './dense-folded';
import { crossEntropyOnHost, mseOnHost } from './host-losses';

/** Switch for A/B benchmarks (bench/dense-floor.ts); always on otherwise. */
export const directPassSwitch = { enabled: true };

/** Whether this pass applies: ReLU/linear dense layers with a bias, larger than the folded pass takes, no dropout while training. */
export function directSupported(network: Network, training: boolean): boolean {
  const plan = network.plan;
  if (!directPassSwitch.enabled || !plan || !network.isDenseStack || !plan.some((s) => s.kind === 'dense')) return false;
  let large = false;
  const ok = plan.every((s) => {
    if (s.kind === 'dense') {
      const w = network.layout[s.param];
      const b = network.layout[s.param + 1];
      if (s.inSize * s.outSize > FOLDED_MAX_LAYER) large = true;
      return (s.activation === null || s.activation === 'relu') && w.kind === 'weight' && b?.kind === 'bias' && b.layer === w.layer;
    }
    if (s.kind === 'activation') return s.name === 'relu';
    if (s.kind === 'dropout') return !training;
    return s.kind === 'flatten';
  });
  return ok && large;
}

/** A batch for this pass, shared by every particle that trains on it. */
export interface DirectBatch {
  /** [1, B, in]. */
  x: tf.Tensor;
  /** x^T, [1, in, B]. */
  xT: tf.Tensor;
}

/** Call inside tf.tidy. */
export function directBatch(network: Network, x: tf.Tensor): DirectBatch {
  const flatIn = network.inputShape.reduce((a, b) => a * b, 1);
  const x3 = tf.reshape(reshapeInput(x, [flatIn]), [1, x.shape[0], flatIn]);
  return { x: x3, xT: tf.transpose(x3, [0, 2, 1]) };
}

type DenseStep = Extract<PlanStep, { kind: 'dense' }>;

let lossGrad = new Float32Array(0);
/** Scratch for dLoss/dOutput: wasm copies uploads; cpu keeps what it is given, so it gets its own. */
function lossScratch(size: number): Float32Array {
  if (backendAliasesUploads()) return new Float32Array(size);
  if (lossGrad.length !== size) lossGrad = new Float32Array(size);
  return lossGrad;
}

/** The row's values for an upload: a view where the backend copies uploads, else a copy. */
function rowValues(params: Float32Array, offset: number, size: number): Float32Array {
  const view = params.subarray(offset, offset + size);
  return backendAliasesUploads() ? view.slice() : view;
}

/**
 * Loss and gradient of one particle (params = its flat row), gradient written into gradRow
 * (layout order). Returns the loss. Call inside tf.tidy.
 */
export function directLossAndGrad(
  network: Network,
  params: Float32Array,
  batch: DirectBatch,
  target: tf.Tensor,
  loss: Loss,
  gradRow: Float32Array,
  outputOffset?: tf.Tensor,
  runnerKind: RunnerKind = 'fastest',
): number {
  const run = kernelRunner(runnerKind);
  try {
    return directPass(run, network, params, batch, target, loss, gradRow, outputOffset);
  } finally {
    run.dispose();
  }
}

function directPass(
  run: Runner,
  network: Network,
  params: Float32Array,
  batch: DirectBatch,
  target: tf.Tensor,
  loss: Loss,
  gradRow: Float32Array,
  outputOffset?: tf.Tensor,
): number {
  const plan = network.plan!;
  const layout = network.layout;
  const firstDense = plan.find((s): s is DenseStep => s.kind === 'dense')!;

  // Forward, keeping each dense layer's input and every step's output.
  const inputs = new Map<DenseStep, Info>();
  const weights = new Map<DenseStep, Info>();
  const outputs: Info[] = [];
  let h: Info = batch.x;
  for (const step of plan) {
    if (step.kind === 'dense') {
      const w = layout[step.param];
      const b = layout[step.param + 1];
      inputs.set(step, h);
      const weight = run.upload(rowValues(params, w.offset, w.size), [1, step.inSize, step.outSize]);
      weights.set(step, weight);
      const bias = run.upload(rowValues(params, b.offset, b.size), [step.outSize]);
      h = run.matMulBias(h, weight, bias, step.activation === 'relu' ? 'relu' : 'linear');
    } else if (step.kind === 'activation') {
      h = run.relu(h);
    }
    outputs.push(h);
  }

  let value: number;
  let d: Info;
  if ((loss.name === 'mse' || loss.name === 'cross-entropy') && !outputOffset) {
    // On the host (host-losses.ts): saves the loss's kernels, about 5% of a step.
    const [, rows, k] = h.shape;
    const grad = lossScratch(rows * k);
    const pred = run.values(h);
    const t = target.dataSync() as Float32Array;
    value = loss.name === 'mse' ? mseOnHost(pred, t, grad) : crossEntropyOnHost(pred, t, k, grad);
    d = run.upload(grad, h.shape);
  } else {
    const output = run.tensor(h);
    const out = outputOffset ? tf.add(output, outputOffset) : output;
    value = loss.valueOf(out, target).dataSync()[0];
    d = loss.gradOf(out, target);
  }
  for (let i = plan.length - 1; i >= 0; i--) {
    const step = plan[i];
    if (step.kind === 'dense') {
      const w = layout[step.param];
      d = run.reluGradSum(d, step.activation === 'relu' ? outputs[i] : null, gradRow, layout[step.param + 1].offset); // and db
      const input = inputs.get(step)!;
      const g = run.matMul(input === batch.x ? batch.xT : run.transpose(input), d, null);
      gradRow.set(run.values(g), w.offset); // dW
      if (step === firstDense) break; // no input gradient below the first layer
      // W^T by the backend's transpose of the uploaded W: 0.065 ms at 256 x 256 on wasm, against 0.22 ms on the host.
      d = run.matMul(d, run.transpose(weights.get(step)!), null);
    } else if (step.kind === 'activation') {
      d = run.reluGrad(d, outputs[i]);
    }
  }
  return value;
}
