// Explicit forward and backward pass for sequential conv nets (conv2d, 'valid'
// pooling, dense, elementwise activations, dropout, flatten), one particle at a
// time, for the wasm and cpu backends. Why this shape (measured on wasm, see
// /work/shared/perf-notes.md): tfjs's conv filter and input gradients run at
// 1-2 GFLOPS and its max-pool gradient takes ~20 ms for LeNet, while 2-D matMul
// runs at ~30 GFLOPS. So:
//   - forward conv stays tfjs's fused conv2d (XNNPACK, fast);
//   - filter gradient = im2col(x)^T @ dy: im2col is built transposed on the host
//     (wasm's matMul leaves XNNPACK when asked to transpose);
//   - input gradient, stride 1: a forward conv of dy with the flipped filter
//     (the fast kernel again); other strides: (dy @ W^T) then col2im on the host;
//   - max pooling forward is tfjs's; its gradient, the derivative of the fused
//     activation of the conv below and that conv's bias gradient run as one JS
//     loop, which writes dz straight in the layouts the conv's gradients read.
// Values move between host and backend lazily (see Act), at most once each way;
// host loops read tensors in place and write into reused scratch (host-io.ts).
// The first layer's im2col depends only on the batch, so a ParticleGroup builds
// it once per step for all its particles (ConvBatch).
// Gradients equal autodiff's to float rounding.
import { tf } from '../util/tf';
import { Loss } from './losses';
import { dropoutMask } from './dropout';
import { activationGrad, applyActivation } from './activations';
import type { Network, PlanStep } from './network';
import { reshapeInput } from './shapes';
import { PoolGradOut, Window2d, avgPool, col2im, im2colT, maxPoolBackward, maxPoolBackwardInto, transpose2d, windowOf } from './conv-host';
import { peek, scratch } from './host-io';

/** A value held on the backend, on the host, or both; each side made on first use. */
class Act {
  private t?: tf.Tensor;
  private h?: Float32Array;
  constructor(
    readonly shape: number[],
    from: tf.Tensor | Float32Array,
  ) {
    if (from instanceof Float32Array) this.h = from;
    else this.t = from;
  }
  tensor(): tf.Tensor {
    // Host arrays here are never written after they are made, so backends may alias them.
    this.t ??= tf.tensor(this.h!, this.shape, 'float32');
    return this.t;
  }
  /** Read-only values, to be read at once (see host-io's peek). */
  peek(): Float32Array {
    return this.h ?? peek(this.t!);
  }
  reshaped(shape: number[]): Act {
    return this.h ? new Act(shape, this.h) : new Act(shape, tf.reshape(this.t!, shape));
  }
}

/** Whether the explicit conv path handles every step of this network's plan. */
export function convExplicitSupported(network: Network): boolean {
  const plan = network.plan;
  if (!plan || network.isDenseStack) return false;
  return plan.every((s) => s.kind !== 'pool' || s.padding === 'valid');
}

/** One batch prepared for the explicit conv path; shared by every particle that trains on it. */
export interface ConvBatch {
  x: Act;
  /** What the first layer's filter gradient reads from x, when that layer is a conv2d (see filterGradInput). */
  firstFilterGradInput?: tf.Tensor;
}

/** Prepares x [B, ...inputShape] (or flat) for convLossAndGrad. Call inside tf.tidy. */
export function convBatch(network: Network, x: tf.Tensor): ConvBatch {
  const shape = [x.shape[0], ...network.inputShape];
  const batch: ConvBatch = { x: new Act(shape, reshapeInput(x, network.inputShape)) };
  const first = network.plan?.[0];
  if (first?.kind === 'conv2d') {
    const [kh, kw] = network.layout[first.param].shape;
    batch.firstFilterGradInput = filterGradInput(batch.x, windowOf(shape, [kh, kw], first.strides, first.padding));
  }
  return batch;
}

/**
 * The layer input as the filter gradient consumes it. Stride 1: x with batch and channels
 * swapped, [C, H, W, B], the input of a conv whose filter is dy (see convBackward).
 * Other strides: im2col(x)^T [kh*kw*C, B*outH*outW].
 */
function filterGradInput(x: Act, g: Window2d): tf.Tensor {
  if (g.sh === 1 && g.sw === 1) return tf.transpose(x.tensor(), [3, 1, 2, 0]);
  return tf.tensor(im2colT(x.peek(), g), [g.kh * g.kw * g.channels, g.batch * g.outH * g.outW]);
}

interface Saved {
  input: Act;
  output: Act;
  window?: Window2d;
  mask?: tf.Tensor;
}

export interface ConvOptions {
  training: boolean;
  dropoutSeed: number;
  /** Added to the output [B, k] before the loss. */
  outputOffset?: tf.Tensor;
  /** The host row `params` were made from (network.layout order): weights are read from it, not downloaded. */
  paramRow?: Float32Array;
}

/**
 * Loss of one particle (per-layout tensors `params`, as from network.materialize) on a
 * prepared batch; its gradient is written into gradRow (network.layout order). Call inside tf.tidy.
 */
export function convLossAndGrad(
  network: Network,
  params: tf.Tensor[],
  batch: ConvBatch,
  target: tf.Tensor,
  loss: Loss,
  gradRow: Float32Array,
  opts: ConvOptions,
): number {
  const plan = network.plan!;
  const saved: Saved[] = [];
  let h = batch.x;
  for (const step of plan) {
    const input = h;
    const s: Saved = { input, output: input };
    switch (step.kind) {
      case 'dense':
        h = new Act(
          [h.shape[0], step.outSize],
          tf.fused.matMul({ a: h.tensor(), b: params[step.param], bias: params[step.param + 1], activation: step.activation ?? 'linear' }),
        );
        break;
      case 'conv2d': {
        const out = tf.fused.conv2d({
          x: h.tensor() as tf.Tensor4D,
          filter: params[step.param] as tf.Tensor4D,
          bias: params[step.param + 1],
          strides: step.strides,
          pad: step.padding,
          activation: step.activation ?? 'linear',
        });
        const [kh, kw] = network.layout[step.param].shape;
        s.window = windowOf(h.shape, [kh, kw], step.strides, step.padding);
        h = new Act(out.shape, out);
        break;
      }
      case 'activation':
        h = new Act(h.shape, applyActivation(step.name, h.tensor()));
        break;
      case 'dropout':
        if (opts.training) {
          const size = h.shape.reduce((a, b) => a * b, 1);
          s.mask = tf.tensor(dropoutMask(opts.dropoutSeed, step.layer, step.rate, size), h.shape);
          h = new Act(h.shape, tf.mul(h.tensor(), s.mask));
        }
        break;
      case 'flatten':
        h = h.reshaped([h.shape[0], h.shape.slice(1).reduce((a, b) => a * b, 1)]);
        break;
      case 'pool': {
        const g = windowOf(h.shape, step.size, step.strides, 'valid');
        s.window = g;
        const outShape = [g.batch, g.outH, g.outW, g.channels];
        if (step.op === 'max') {
          h = new Act(outShape, tf.maxPool(h.tensor() as tf.Tensor4D, step.size, step.strides, 'valid'));
        } else {
          h = new Act(outShape, avgPool(h.peek(), g, false));
        }
        break;
      }
    }
    s.output = h;
    saved.push(s);
  }

  const outT = h.shape.length === 2 ? h.tensor() : tf.reshape(h.tensor(), [h.shape[0], network.outputSize]);
  const out = opts.outputOffset ? tf.add(outT, opts.outputOffset) : outT;
  const value = loss.valueOf(out, target).dataSync()[0];
  let d = new Act(h.shape, tf.reshape(loss.gradOf(out, target), h.shape));
  // Layers below the first one with parameters need no input gradient.
  const firstParam = plan.findIndex((st) => st.kind === 'dense' || st.kind === 'conv2d');
  const hostParam = (k: number): Float32Array => {
    const e = network.layout[k];
    return opts.paramRow ? opts.paramRow.subarray(e.offset, e.offset + e.size) : peek(params[k]);
  };
  // Set by a max pool for the conv right below it: that conv's gradient, already prepared.
  let pending: DzParts | undefined;
  for (let i = plan.length - 1; i >= firstParam; i--) {
    const step = plan[i];
    const s = saved[i];
    const needInput = i > firstParam;
    switch (step.kind) {
      case 'dense':
        d = denseBackward(step, params, s, d, gradRow, network, needInput);
        break;
      case 'conv2d':
        d = convBackward(step, hostParam, s, pending ?? dzParts(step, s, d, i), gradRow, network, needInput, i === 0 ? batch.firstFilterGradInput : undefined);
        pending = undefined;
        break;
      case 'activation':
        d = new Act(d.shape, activationGrad(step.name, d.tensor(), s.output.tensor(), s.input.tensor()));
        break;
      case 'dropout':
        if (s.mask) d = new Act(d.shape, tf.mul(d.tensor(), s.mask));
        break;
      case 'flatten':
        d = d.reshaped(s.input.shape);
        break;
      case 'pool': {
        const below = plan[i - 1];
        if (step.op === 'max' && below?.kind === 'conv2d') {
          // The conv below gets its gradient straight from the pool's loop (see maxPoolBackwardInto).
          pending = poolIntoConv(below, s, d, i - 1, i - 1 > firstParam);
          d = new Act(s.input.shape, pending.dz ?? new Float32Array(0));
          break;
        }
        const dx = step.op === 'max' ? maxPoolBackward(d.peek(), s.input.peek(), s.output.peek(), s.window!) : avgPool(d.peek(), s.window!, true);
        d = new Act(s.input.shape, dx);
        break;
      }
    }
  }
  return value;
}

type DenseStep = Extract<PlanStep, { kind: 'dense' }>;
type ConvStep = Extract<PlanStep, { kind: 'conv2d' }>;

function denseBackward(
  step: DenseStep,
  params: tf.Tensor[],
  s: Saved,
  d: Act,
  gradRow: Float32Array,
  network: Network,
  needInput: boolean,
): Act {
  const dz = step.activation ? activationGrad(step.activation, d.tensor(), s.output.tensor()) : d.tensor();
  const inSize = step.inSize;
  const batch = s.input.shape[0];
  // Explicit transposes (wasm's Transpose kernel, ~3x faster than a JS loop and its upload):
  // wasm's matMul with a transpose flag leaves XNNPACK.
  const inputT = tf.transpose(s.input.tensor());
  gradRow.set(peek(tf.matMul(inputT, dz)), network.layout[step.param].offset);
  // On the host: wasm's Sum over axis 0 transposes first, ~0.3 ms for [128, 120].
  gradRow.set(channelSums(peek(dz), step.outSize), network.layout[step.param + 1].offset);
  if (!needInput) return d;
  const wT = tf.transpose(params[step.param]);
  return new Act([batch, inSize], tf.matMul(dz, wT));
}

/** A conv's gradient with respect to its pre-activation output, in the layouts its gradients read. */
interface DzParts {
  /** [B, outH, outW, outC]: for the input gradient and strided filter gradients. */
  dz?: Float32Array;
  /** [outH, outW, B, outC]: the filter of the stride-1 filter gradient. */
  dzT?: Float32Array;
  bias: Float64Array;
}

/**
 * What convBackward reads, given the layer's place: dz for an input gradient or strides > 1;
 * else (stride 1, the first layer) dzT alone. From dz, convBackward makes dzT with wasm's transpose.
 */
function wants(step: ConvStep, needInput: boolean): { dz: boolean; dzT: boolean } {
  const stride1 = step.strides[0] === 1 && step.strides[1] === 1;
  const dz = needInput || !stride1;
  return { dz, dzT: stride1 && !dz };
}

/** A max pool's gradient, written as the DzParts of the conv (plan step `at`) under it. */
function poolIntoConv(conv: ConvStep, pool: Saved, d: Act, at: number, needInput: boolean): DzParts {
  const g = pool.window!;
  const n = g.batch * g.inH * g.inW * g.channels;
  const want = wants(conv, needInput);
  const out: PoolGradOut = {
    dz: want.dz ? scratch(`conv${at}:dz`, n) : undefined,
    dzT: want.dzT ? scratch(`conv${at}:dzT`, n) : undefined,
    sums: new Float64Array(g.channels),
  };
  maxPoolBackwardInto(d.peek(), pool.input.peek(), pool.output.peek(), g, conv.activation ?? undefined, out);
  return { dz: out.dz, dzT: out.dzT, bias: out.sums! };
}

/** DzParts from the gradient d of a conv's (activated) output. */
function dzParts(step: ConvStep, s: Saved, d: Act, at: number): DzParts {
  // Always dz: convBackward transposes it on the backend when it needs dzT.
  const g = s.window!;
  const outC = d.shape[3];
  const n = g.batch * g.outH * g.outW * outC;
  const dz = scratch(`conv${at}:dz`, n);
  dz.set(d.peek());
  if (step.activation) hostActivationGrad(step.activation, dz, s.output.peek());
  return { dz, bias: channelSums(dz, outC) };
}

function convBackward(
  step: ConvStep,
  hostParam: (k: number) => Float32Array,
  s: Saved,
  parts: DzParts,
  gradRow: Float32Array,
  network: Network,
  needInput: boolean,
  sharedInput?: tf.Tensor,
): Act {
  const g = s.window!;
  const outC = network.layout[step.param].shape[3];
  const rows = g.batch * g.outH * g.outW;
  const K = g.kh * g.kw * g.channels;
  const stride1 = g.sh === 1 && g.sw === 1;
  gradRow.set(parts.bias, network.layout[step.param + 1].offset);
  const input = sharedInput ?? filterGradInput(s.input, g);
  const wOffset = network.layout[step.param].offset;
  const dShape = [g.batch, g.outH, g.outW, outC] as [number, number, number, number];
  const dzTensor = parts.dz ? tf.tensor4d(parts.dz, dShape) : undefined;
  if (stride1) {
    // dW[i,j,c,o] = sum over b,y,x of xpad[b,y+i,x+j,c] dz[b,y,x,o]: a conv of x^T [C,H,W,B]
    // with dz as the filter [outH, outW, B, outC], giving [C, kh, kw, outC]. XNNPACK runs
    // it ~3x faster than im2col^T @ dz with the im2col built on the host.
    const filterShape: [number, number, number, number] = [g.outH, g.outW, g.batch, outC];
    const dzFilter = parts.dzT
      ? tf.tensor4d(parts.dzT, filterShape)
      : tf.reshape<tf.Rank.R4>(tf.transpose(tf.reshape(dzTensor!, [g.batch, g.outH * g.outW, outC]), [1, 0, 2]), filterShape);
    const padBottom = g.kh + g.outH - 1 - g.inH - g.padTop;
    const padRight = g.kw + g.outW - 1 - g.inW - g.padLeft;
    const pad = explicitPad(g.padTop, padBottom, g.padLeft, padRight);
    const dW = peek(tf.conv2d(input as tf.Tensor4D, dzFilter, 1, pad)); // [C, kh, kw, outC]
    const khkw = g.kh * g.kw;
    for (let c = 0; c < g.channels; c++) {
      for (let ij = 0; ij < khkw; ij++) gradRow.set(dW.subarray((c * khkw + ij) * outC, (c * khkw + ij + 1) * outC), wOffset + (ij * g.channels + c) * outC);
    }
  } else {
    gradRow.set(peek(tf.matMul(input, tf.reshape(dzTensor!, [rows, outC]))), wOffset);
  }
  if (!needInput) return new Act(s.input.shape, new Float32Array(0));
  const filter = hostParam(step.param);
  if (stride1) return new Act(s.input.shape, inputGradByConv(dzTensor!, filter, g));
  // dcols = dz @ W^T, then col2im.
  const wT = tf.tensor(transpose2d(filter, K, outC), [outC, K]);
  const dcols = peek(tf.matMul(tf.reshape(dzTensor!, [rows, outC]), wT));
  return new Act(s.input.shape, col2im(dcols, g));
}

/** Per-channel sums of x [rows, C] (a conv's bias gradient). */
function channelSums(x: Float32Array, C: number): Float64Array {
  const sums = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let acc = 0;
    for (let k = c; k < x.length; k += C) acc += x[k];
    sums[c] = acc;
  }
  return sums;
}

type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];
function explicitPad(top: number, bottom: number, left: number, right: number): ExplicitPad {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

/**
 * Stride-1 input gradient as a forward conv: dx = conv(dy padded by k-1-pad, W flipped in
 * space with its channel axes swapped).
 */
function inputGradByConv(dz: tf.Tensor4D, filter: Float32Array, g: Window2d): tf.Tensor {
  const { kh, kw, channels: C } = g;
  const outC = dz.shape[3];
  const flipped = new Float32Array(filter.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const src = ((kh - 1 - i) * kw + (kw - 1 - j)) * C * outC;
      const dst = (i * kw + j) * outC * C;
      for (let c = 0; c < C; c++) for (let o = 0; o < outC; o++) flipped[dst + o * C + c] = filter[src + c * outC + o];
    }
  }
  const top = kh - 1 - g.padTop;
  const left = kw - 1 - g.padLeft;
  const bottom = g.inH - g.outH + kh - 1 - top;
  const right = g.inW - g.outW + kw - 1 - left;
  return tf.conv2d(dz, tf.tensor4d(flipped, [kh, kw, outC, C]), 1, explicitPad(top, bottom, left, right));
}

/** dz *= activation'(y), in place, from the activation's output y. */
function hostActivationGrad(name: 'relu' | 'sigmoid' | 'elu', dz: Float32Array, y: Float32Array): void {
  const n = dz.length;
  if (name === 'relu') {
    for (let k = 0; k < n; k++) if (!(y[k] > 0)) dz[k] = 0;
  } else if (name === 'sigmoid') {
    for (let k = 0; k < n; k++) dz[k] *= y[k] * (1 - y[k]);
  } else {
    for (let k = 0; k < n; k++) if (!(y[k] >= 0)) dz[k] *= y[k] + 1;
  }
}
