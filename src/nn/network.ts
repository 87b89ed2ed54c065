// A compiled network: the flat parameter layout of a model spec, PyTorch-style
// initialisation, and a forward pass that reads its weights from per-layer
// tensors. Parameters live on the host as one flat Float32Array per particle
// (see group.ts); `materialize` turns a row into tensors for one step.
//
// Flat order (fixed): layer by layer, each layer's weight then its bias.
//   dense  weight [in, out] row-major, then bias [out]: one contiguous [(in+1), out] block;
//   conv2d weight [kh, kw, inC, outC] (tfjs layout), then bias [outC].
// Initialisation follows PyTorch's defaults: every weight and bias of a layer is
// uniform in +-1/sqrt(fan_in) (fan_in = in for dense, inC*kh*kw for conv2d), drawn
// in flat order from `new Rng(seed)`, so the same seed gives the same weights on
// every backend.
import { ensureGradients, tf } from '../util/tf';
import { Rng } from '../util/rng';
import { Padding, SequentialSpec, layerOutputShapes, pair } from './spec';
import { dropoutMask, nextFallbackDropoutSeed } from './dropout';
import { applyActivation } from './activations';
import { denseForward } from './dense-backward';
import { backendAliasesUploads, checkRowLength, reshapeInput } from './shapes';
import { ensureWasmConvFilterGrad } from './wasm-kernels';
import { FUSABLE, ForwardOptions, FusedActivation, Network, ParamEntry, PlanStep, materializeLayout } from './network-api';

export type { ForwardOptions, FusedActivation, Network, ParamEntry, PlanStep } from './network-api';
export { materializeLayout } from './network-api';

export class SequentialNetwork implements Network {
  readonly numParams: number;
  readonly layout: ParamEntry[] = [];
  readonly inputShape: readonly number[];
  readonly outputSize: number;
  readonly hasDropout: boolean;
  readonly isDenseStack: boolean;
  readonly plan: PlanStep[] = [];
  /** fan_in of each layout entry's layer (for initialisation). */
  private readonly fanIn: number[] = [];

  constructor(readonly spec: SequentialSpec) {
    this.inputShape = [...spec.inputShape];
    const shapes = layerOutputShapes(spec);
    this.outputSize = shapes[shapes.length - 1].reduce((a, b) => a * b, 1);
    let offset = 0;
    const addParam = (layer: number, kind: 'weight' | 'bias', shape: number[], fanIn: number) => {
      const size = shape.reduce((a, b) => a * b, 1);
      this.layout.push({ layer, kind, shape, offset, size });
      this.fanIn.push(fanIn);
      offset += size;
      return this.layout.length - 1;
    };
    const layers = spec.layers;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i];
      const inShape = i === 0 ? spec.inputShape : shapes[i - 1];
      const next = layers[i + 1];
      const fuse = next !== undefined && FUSABLE.includes(next.type) ? (next.type as FusedActivation) : null;
      switch (layer.type) {
        case 'dense': {
          const inSize = inShape[0];
          const param = addParam(i, 'weight', [inSize, layer.units], inSize);
          addParam(i, 'bias', [layer.units], inSize);
          this.plan.push({ kind: 'dense', layer: i, param, inSize, outSize: layer.units, activation: fuse });
          if (fuse) i++; // the activation layer is applied inside the fused op
          break;
        }
        case 'conv2d': {
          const [kh, kw] = pair(layer.kernelSize);
          const inC = inShape[2];
          const param = addParam(i, 'weight', [kh, kw, inC, layer.filters], inC * kh * kw);
          addParam(i, 'bias', [layer.filters], inC * kh * kw);
          this.plan.push({ kind: 'conv2d', layer: i, param, strides: pair(layer.stride ?? 1), padding: layer.padding ?? 'valid', activation: fuse });
          if (fuse) i++;
          break;
        }
        case 'dropout':
          if (layer.rate > 0) this.plan.push({ kind: 'dropout', layer: i, rate: layer.rate });
          break;
        case 'flatten':
          this.plan.push({ kind: 'flatten', layer: i });
          break;
        case 'maxPool2d':
        case 'avgPool2d':
          this.plan.push({
            kind: 'pool',
            layer: i,
            op: layer.type === 'maxPool2d' ? 'max' : 'avg',
            size: pair(layer.poolSize),
            strides: pair(layer.stride ?? layer.poolSize),
            padding: layer.padding ?? 'valid',
          });
          break;
        default:
          this.plan.push({ kind: 'activation', layer: i, name: layer.type });
      }
    }
    this.numParams = offset;
    this.hasDropout = this.plan.some((s) => s.kind === 'dropout');
    this.isDenseStack = this.plan.every((s) => s.kind === 'dense' || s.kind === 'activation' || s.kind === 'dropout' || s.kind === 'flatten');
    if (this.plan.some((s) => s.kind === 'conv2d')) ensureWasmConvFilterGrad();
  }

  initParams(seed: number, out?: Float32Array): Float32Array {
    const row = out ?? new Float32Array(this.numParams);
    checkRowLength(row, this.numParams, 'initParams out');
    const rng = new Rng(seed);
    this.layout.forEach((entry, i) => {
      const bound = 1 / Math.sqrt(this.fanIn[i]);
      rng.fillUniform(row.subarray(entry.offset, entry.offset + entry.size), -bound, bound);
    });
    return row;
  }

  materialize(row: Float32Array): tf.Tensor[] {
    checkRowLength(row, this.numParams, 'parameter row');
    return materializeLayout(this.layout, row);
  }

  forward(params: tf.Tensor[], x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    const training = opts.training ?? false;
    const seed = training && this.hasDropout ? (opts.dropoutSeed ?? nextFallbackDropoutSeed()) : 0;
    const shared = !!opts.sharedDropoutMask;
    if (this.isDenseStack && !taping()) return tf.tidy(() => this.forwardDenseStack(params, x, training, seed, shared));
    return tf.tidy(() => {
      const batch = x.shape[0];
      let h = reshapeInput(x, this.isDenseStack ? [this.inputShape.reduce((a, b) => a * b, 1)] : this.inputShape);
      for (const step of this.plan) {
        switch (step.kind) {
          case 'dense':
            h = denseLayer(h, params[step.param], params[step.param + 1], step.activation);
            break;
          case 'conv2d':
            h = conv2dLayer(h, params[step.param], params[step.param + 1], step.strides, step.padding, step.activation);
            break;
          case 'activation':
            h = applyActivation(step.name, h);
            break;
          case 'dropout':
            if (training) {
              const shape = shared ? [1, ...h.shape.slice(1)] : h.shape;
              h = tf.mul(h, tf.tensor(dropoutMask(seed, step.layer, step.rate, shape.reduce((a, b) => a * b, 1)), shape));
            }
            break;
          case 'flatten':
            h = tf.reshape(h, [batch, -1]);
            break;
          case 'pool':
            h = step.op === 'max'
              ? tf.maxPool(h as tf.Tensor4D, step.size, step.strides, step.padding)
              : tf.avgPool(h as tf.Tensor4D, step.size, step.strides, step.padding);
            break;
        }
      }
      return h.rank === 2 ? h : tf.reshape(h, [batch, this.outputSize]);
    });
  }

  /** Untaped dense stacks: direct kernels on rank-3 tensors (2 kernels per layer instead of 5). */
  private forwardDenseStack(params: tf.Tensor[], x: tf.Tensor, training: boolean, seed: number, sharedDropoutMask: boolean): tf.Tensor {
    const flatIn = this.inputShape.reduce((a, b) => a * b, 1);
    const batch = x.shape[0];
    const x3 = tf.reshape(reshapeInput(x, [flatIn]), [1, batch, flatIn]);
    const tensors = params.map((t, i) => (this.layout[i].kind === 'bias' ? t : tf.reshape(t, [1, ...t.shape])));
    const out = denseForward(this, { tensors, transposed: [] }, x3, { training, dropoutSeeds: [seed], sharedDropoutMask }).output;
    return tf.reshape(out, [batch, this.outputSize]);
  }

  valueAndGrads(params: tf.Tensor[], x: tf.Tensor, lossOfOutput: (output: tf.Tensor) => tf.Scalar, opts: ForwardOptions = {}) {
    // Fix the dropout seed outside the taped function so forward sees one seed.
    const fixed: ForwardOptions = { ...opts, dropoutSeed: opts.training && this.hasDropout ? (opts.dropoutSeed ?? nextFallbackDropoutSeed()) : 0 };
    ensureGradients();
    return tf.valueAndGrads((...ps: tf.Tensor[]) => lossOfOutput(this.forward(ps, x, fixed)))(params);
  }

  dispose(): void {
    /* nothing held: parameters are the caller's */
  }
}

/**
 * True inside tf.grads/valueAndGrads. Taped passes use plain ops: tfjs's fused ops are
 * customGrad ops there, and with the IS_TEST flag on (users may set it) tfjs's per-kernel
 * leak check counts the tensors a customGrad op saves for backprop as leaks and throws.
 */
function taping(): boolean {
  return (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
}

/** Dense layer [B, in] @ [in, out] + bias, with an optional fused activation. */
function denseLayer(h: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, activation: FusedActivation | null): tf.Tensor {
  if (!taping()) return tf.fused.matMul({ a: h, b: weight, bias, activation: activation ?? 'linear' });
  const pre = tf.add(tf.matMul(h, weight), bias);
  return activation ? applyActivation(activation, pre) : pre;
}

function conv2dLayer(
  h: tf.Tensor,
  filter: tf.Tensor,
  bias: tf.Tensor,
  strides: [number, number],
  pad: Padding,
  activation: FusedActivation | null,
): tf.Tensor {
  if (!taping()) {
    return tf.fused.conv2d({ x: h as tf.Tensor4D, filter: filter as tf.Tensor4D, bias, strides, pad, activation: activation ?? 'linear' });
  }
  const pre = tf.add(tf.conv2d(h as tf.Tensor4D, filter as tf.Tensor4D, strides, pad), bias);
  return activation ? applyActivation(activation, pre) : pre;
}

