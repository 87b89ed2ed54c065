// Explicit forward and backward pass for dense stacks (dense layers,
// elementwise activations, dropout, flatten), for one particle or P stacked
// particles at once. Per dense layer: 1 fused matMul forward; backward 1
// transpose and 3 plain matMuls (weights, bias via a ones row, input) plus 1-3
// elementwise ops for the activation. Why this shape:
//   - per-op overhead dominates small nets, so kernels are called directly on
//     rank-3 tensors, skipping the reshapes and customGrad wrapper that
//     tf.matMul / tf.fused.matMul add around every call;
//   - on wasm a matMul with transposeA or transposeB leaves XNNPACK for a slow
//     loop (~40 us vs ~6 us at 128x20x20), so the backward pass multiplies by
//     W^T uploaded from the host (transposed there for free) and by an
//     explicitly transposed layer input.
// Gradients equal autodiff's (to float rounding).
//
// Tensor shapes: activations [P, B, features] (P = 1 for one particle; a shared
// input stays [1, B, in] and broadcasts), weights [P, in, out], biases [out]
// when P = 1 (so wasm can fuse bias and activation) else [P, 1, out].
import { tf } from '../util/tf';
import { Loss } from './losses';
import { dropoutMask } from './dropout';
import { activationGrad, applyActivation } from './activations';
import type { Network } from './network-api';
import { backendAliasesUploads, reshapeInput } from './shapes';

export interface DenseOptions {
  training: boolean;
  /** One per particle. */
  dropoutSeeds: number[];
  /** One dropout mask per particle over units, shared by every input row (see ForwardOptions.sharedDropoutMask). */
  sharedDropoutMask?: boolean;
  /** Added to the output before the loss: [B, k] or [P, B, k]. */
  outputOffset?: tf.Tensor;
}

interface Saved {
  input?: tf.Tensor;
  output: tf.Tensor;
  pre?: tf.Tensor;
  mask?: tf.Tensor;
}

/** One batch prepared for the explicit path; shared by every particle that trains on it. */
export interface DenseBatch {
  /** [1, B, in] (shared) or [P, B, in] (one batch per particle). */
  x: tf.Tensor;
  /** x^T per particle, [1 or P, in, B]: the first dense layer's weight gradient needs it. */
  xT: tf.Tensor;
  /** [1, 1, B] of ones: bias gradient = ones @ d. */
  ones: tf.Tensor;
}

/** Input x [B, ...] (shared) or stacked per-particle inputs [P, B, ...] (stacked = true). Call inside tf.tidy. */
export function denseBatch(network: Network, x: tf.Tensor, stacked = false): DenseBatch {
  const flatIn = network.inputShape.reduce((a, b) => a * b, 1);
  const x3 = stacked
    ? x.rank === 3 && x.shape[2] === flatIn
      ? x
      : tf.reshape(x, [x.shape[0], x.shape[1] as number, flatIn])
    : tf.reshape(reshapeInput(x, [flatIn]), [1, x.shape[0], flatIn]);
  const batch = x3.shape[1] as number;
  return { x: x3, xT: tf.transpose(x3, [0, 2, 1]), ones: tf.ones([1, 1, batch]) };
}

/** Parameters of P particles in the explicit path's shapes. */
export interface DenseParams {
  /** Per layout entry: weights [P, in, out]; biases [out] (P = 1) or [P, 1, out]. */
  tensors: tf.Tensor[];
  /** Per layout entry: for weights, W^T [P, out, in] (backward pass only); else undefined. */
  transposed: (tf.Tensor | undefined)[];
}

/**
 * Uploads P particles' parameters from their host rows (rows[p] = particle p's flat row).
 * `withTransposed` adds W^T for the backward pass, for every layer but the first dense
 * one (no input gradient is taken there; its W^T was ~0.3 ms of host work per MLP step).
 */
export function uploadDenseParams(network: Network, rows: readonly Float32Array[], withTransposed = true): DenseParams {
  const P = rows.length;
  const copy = backendAliasesUploads();
  const tensors = network.layout.map((e) => {
    if (P === 1) {
      const view = rows[0].subarray(e.offset, e.offset + e.size);
      return tf.tensor(copy ? view.slice() : view, e.kind === 'bias' ? e.shape : [1, ...e.shape], 'float32');
    }
    const buf = new Float32Array(P * e.size);
    rows.forEach((row, p) => buf.set(row.subarray(e.offset, e.offset + e.size), p * e.size));
    return tf.tensor(buf, e.kind === 'bias' ? [P, 1, ...e.shape] : [P, ...e.shape], 'float32');
  });
  const firstWeight = network.layout.findIndex((e) => e.kind !== 'bias');
  const transposed = network.layout.map((e, i) => {
    if (!withTransposed || e.kind === 'bias' || i === firstWeight) return undefined;
    const [rowsIn, cols] = e.shape;
    const buf = new Float32Array(P * e.size);
    rows.forEach((row, p) => {
      const base = p * e.size;
      for (let i = 0; i < rowsIn; i++) {
        const src = e.offset + i * cols;
        for (let j = 0; j < cols; j++) buf[base + j * rowsIn + i] = row[src + j];
      }
    });
    return tf.tensor(buf, [P, cols, rowsIn], 'float32');
  });
  return { tensors, transposed };
}

/** The explicit path's shapes from one particle's per-layout tensors (as from network.materialize). */
export function denseParamsFromTensors(network: Network, params: tf.Tensor[]): DenseParams {
  const tensors = params.map((t, i) => (network.layout[i].kind === 'bias' ? t : tf.reshape(t, [1, ...t.shape])));
  const transposed = tensors.map((t, i) => (network.layout[i].kind === 'bias' ? undefined : tf.transpose(t, [0, 2, 1])));
  return { tensors, transposed };
}

/** a @ b, without transposes (see the header for why). */
function bmm(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel('BatchMatMul', { a, b }, { transposeA: false, transposeB: false }) as tf.Tensor;
}

type Fusable = 'relu' | 'sigmoid' | 'elu';

function affine(h: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, activation: Fusable | null): tf.Tensor {
  // wasm's fused kernel takes only a rank-1 bias.
  if (bias.rank === 1 || tf.getBackend() !== 'wasm') {
    return tf.engine().runKernel(
      '_FusedMatMul',
      { a: h, b: weight, bias },
      { transposeA: false, transposeB: false, activation: activation ?? 'linear', leakyreluAlpha: 0.2 },
    ) as tf.Tensor;
  }
  const pre = tf.add(bmm(h, weight), bias);
  return activation ? applyActivation(activation, pre) : pre;
}

/** Forward pass keeping what the backward pass needs. x: a DenseBatch's x. Call inside tf.tidy. */
export function denseForward(network: Network, params: DenseParams, x: tf.Tensor, opts: Omit<DenseOptions, 'outputOffset'>): { output: tf.Tensor; saved: Saved[] } {
  const plan = network.plan;
  if (!plan || !network.isDenseStack) throw new Error('the explicit path needs a dense-stack network');
  const P = opts.dropoutSeeds.length;
  const ps = params.tensors;
  let h = x;
  const saved: Saved[] = [];
  for (const step of plan) {
    if (step.kind === 'dense') {
      const input = h;
      h = affine(h, ps[step.param], ps[step.param + 1], step.activation);
      saved.push({ input, output: h });
    } else if (step.kind === 'activation') {
      const pre = h;
      h = applyActivation(step.name, h);
      saved.push({ pre, output: h });
    } else if (step.kind === 'dropout' && opts.training) {
      const [batch, units] = h.shape.slice(1);
      const rows = opts.sharedDropoutMask ? 1 : batch;
      const masks = opts.dropoutSeeds.map((seed) => dropoutMask(seed, step.layer, step.rate, rows * units));
      // Masks differ per particle even while a shared input is still [1, B, units]; a shared mask broadcasts over B.
      const mask = tf.tensor(concatRows(masks), [P, rows, units]);
      h = tf.mul(h, mask);
      saved.push({ output: h, mask });
    } else {
      saved.push({ output: h }); // flatten (identity here) or dropout when not training
    }
  }
  return { output: h, saved };
}

/** Receives each gradient tensor [P, ...] with its layout offset, instead of host rows (device-resident training). */
export type GradSink = (grad: tf.Tensor, offset: number) => void;

/**
 * Loss and gradient of P particles; particle p's gradient is written into gradRows[p]
 * (a flat row in network.layout order), or handed to a GradSink. Returns the P losses. Call inside tf.tidy.
 */
export function denseLossAndGrad(
  network: Network,
  params: DenseParams,
  batch: DenseBatch,
  target: tf.Tensor,
  loss: Loss,
  gradRows: Float32Array[] | GradSink,
  opts: DenseOptions,
): Float32Array {
  const { output, saved } = denseForward(network, params, batch.x, opts);
  const plan = network.plan!;
  const out = opts.outputOffset ? tf.add(output, opts.outputOffset) : output;
  const losses = Float32Array.from(loss.valueOf(out, target).dataSync());
  let d = loss.gradOf(out, target);
  const firstDense = plan.findIndex((step) => step.kind === 'dense');
  for (let i = plan.length - 1; i >= firstDense; i--) {
    const step = plan[i];
    const s = saved[i];
    if (step.kind === 'dense') {
      if (step.activation) d = activationGrad(step.activation, d, s.output);
      const inputT = s.input === batch.x ? batch.xT : tf.transpose(s.input!, [0, 2, 1]);
      writeGrad(bmm(inputT, d), gradRows, network.layout[step.param].offset);
      writeGrad(bmm(batch.ones, d), gradRows, network.layout[step.param + 1].offset);
      if (i > firstDense) d = bmm(d, params.transposed[step.param]!); // no input gradient below the first layer
    } else if (step.kind === 'activation') {
      d = activationGrad(step.name, d, s.output, s.pre);
    } else if (s.mask) {
      d = tf.mul(d, s.mask);
    }
  }
  return losses;
}

/** g's values without a copy where the backend allows: a view into wasm's heap, valid until the next kernel runs. */
function hostValues(g: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.Tensor) => Float32Array };
  return tf.getBackend() === 'wasm' && backend.typedArrayFromHeap ? backend.typedArrayFromHeap(g) : (g.dataSync() as Float32Array);
}

/** Copies a gradient [P, ...] into each particle's row at `offset`. */
function writeGrad(g: tf.Tensor, rows: Float32Array[] | GradSink, offset: number): void {
  if (typeof rows === 'function') return rows(g, offset);
  const data = hostValues(g);
  if (rows.length === 1) {
    rows[0].set(data, offset);
    return;
  }
  const per = data.length / rows.length;
  for (let p = 0; p < rows.length; p++) rows[p].set(data.subarray(p * per, (p + 1) * per), offset);
}

function concatRows(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
