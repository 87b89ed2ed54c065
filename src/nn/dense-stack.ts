// What the per-particle dense passes (dense-folded.ts, dense-direct.ts) share:
// which plans they take, and the batch input with a ones column.
import { tf } from '../util/tf';
import type { Network, PlanStep } from './network-api';
import type { Loss } from './losses';
import { reshapeInput } from './shapes';
import { Info, Runner, RunnerKind, kernelRunner } from './kernel-runner';

export type DenseStep = Extract<PlanStep, { kind: 'dense' }>;

/**
 * Whether the network is a stack of dense layers with ReLU or no activation
 * (standalone ReLUs and flatten allowed; dropout only when not training), each
 * dense layer accepted by `layerOk`.
 */
export function reluDenseStack(network: Network, training: boolean, layerOk: (step: DenseStep) => boolean): boolean {
  const plan = network.plan;
  if (!plan || !network.isDenseStack || !plan.some((s) => s.kind === 'dense')) return false;
  return plan.every((s) => {
    if (s.kind === 'dense') return (s.activation === null || s.activation === 'relu') && layerOk(s);
    if (s.kind === 'activation') return s.name === 'relu';
    if (s.kind === 'dropout') return !training;
    return s.kind === 'flatten';
  });
}

/** The batch flattened to [1, B, in], and with a ones column, [1, B, in+1]. Call inside tf.tidy. */
export function withOnesColumn(network: Network, x: tf.Tensor): { x: tf.Tensor; xa: tf.Tensor } {
  const flatIn = network.inputShape.reduce((a, b) => a * b, 1);
  const x3 = tf.reshape(reshapeInput(x, [flatIn]), [1, x.shape[0], flatIn]);
  return { x: x3, xa: tf.pad(x3, [[0, 0], [0, 0], [0, 1]], 1) };
}

/** One particle's loss on a prepared batch; its gradient is written into gradRow (layout order). */
export type RowLossAndGrad<B> = (
  network: Network,
  params: Float32Array,
  batch: B,
  target: tf.Tensor,
  loss: Loss,
  gradRow: Float32Array,
  outputOffset?: tf.Tensor,
) => number;

/** Runs `f` with a fresh kernel runner of this kind and frees the runner after. */
export function withRunner<T>(kind: RunnerKind, f: (run: Runner) => T): T {
  const run = kernelRunner(kind);
  try {
    return f(run);
  } finally {
    run.dispose();
  }
}

/** The loss and dLoss/dOutput with the loss's tfjs ops, for what the host losses do not cover. */
export function lossOnBackend(run: Runner, h: Info, target: tf.Tensor, loss: Loss, outputOffset?: tf.Tensor): { value: number; d: Info } {
  const output = run.tensor(h);
  const out = outputOffset ? tf.add(output, outputOffset) : output;
  return { value: loss.valueOf(out, target).dataSync()[0], d: loss.gradOf(out, target) };
}
