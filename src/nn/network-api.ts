// The contract of a compiled network (layout of the flat parameter row, forward,
// autodiff), shared by the sequential and tfjs-layers implementations and the
// explicit backward passes, so none of them imports another's module.
import { tf } from '../util/tf';
import type { ActivationName, ModelSpec, Padding } from './spec';
import { backendAliasesUploads } from './shapes';

export interface ParamEntry {
  /** Index of the layer in the spec (or in the tfjs-layers model). */
  layer: number;
  kind: 'weight' | 'bias';
  shape: number[];
  /** Offset of this tensor in the flat parameter row. */
  offset: number;
  size: number;
}

export interface ForwardOptions {
  /** Dropout active (default false: prediction). MC dropout passes true. */
  training?: boolean;
  /** Seed of the dropout masks; same seed, same masks. */
  dropoutSeed?: number;
  /**
   * One dropout mask over units, shared by every input row (MC dropout prediction): the pass
   * is one thinned network, a fixed function of x, so a row's output depends neither on the
   * batch size nor on its position nor on the other rows. Default false: a mask element per
   * row and unit (training).
   */
  sharedDropoutMask?: boolean;
}

export interface Network {
  readonly spec: ModelSpec;
  readonly numParams: number;
  readonly layout: readonly ParamEntry[];
  /** Shape of one input example. */
  readonly inputShape: readonly number[];
  /** Width of the output: forward returns [B, outputSize]. */
  readonly outputSize: number;
  readonly hasDropout: boolean;
  /** Only dense layers, elementwise activations, dropout and flatten: the explicit backward pass applies. */
  readonly isDenseStack: boolean;
  /** Execution plan (sequential specs only); used by the explicit backward pass. */
  readonly plan?: readonly PlanStep[];
  initParams(seed: number, out?: Float32Array): Float32Array;
  /** One tensor per layout entry, created from the row (caller disposes). */
  materialize(row: Float32Array): tf.Tensor[];
  /** Output [B, outputSize] for inputs x [B, ...inputShape] (or [B, prod(inputShape)]). */
  forward(params: tf.Tensor[], x: tf.Tensor, opts?: ForwardOptions): tf.Tensor;
  /** Autodiff: value of lossOfOutput(forward(params, x)) and its gradient for each params tensor. */
  valueAndGrads(
    params: tf.Tensor[],
    x: tf.Tensor,
    lossOfOutput: (output: tf.Tensor) => tf.Scalar,
    opts?: ForwardOptions,
  ): { value: tf.Scalar; grads: tf.Tensor[] };
  /** Frees backend resources (tfjs-layers models hold variables). */
  dispose(): void;
}

/** Activations that tfjs fuses into matMul/conv2d on every backend. */
export type FusedActivation = 'relu' | 'sigmoid' | 'elu';
export const FUSABLE: readonly string[] = ['relu', 'sigmoid', 'elu'];

export type PlanStep =
  | { kind: 'dense'; layer: number; param: number; inSize: number; outSize: number; activation: FusedActivation | null }
  | { kind: 'conv2d'; layer: number; param: number; strides: [number, number]; padding: Padding; activation: FusedActivation | null }
  | { kind: 'activation'; layer: number; name: ActivationName }
  | { kind: 'dropout'; layer: number; rate: number }
  | { kind: 'flatten'; layer: number }
  | { kind: 'pool'; layer: number; op: 'max' | 'avg'; size: [number, number]; strides: [number, number]; padding: Padding };

/** Per-layout tensors from a flat row. Copies on backends that would otherwise alias the row. */
export function materializeLayout(layout: readonly ParamEntry[], row: Float32Array): tf.Tensor[] {
  const aliases = backendAliasesUploads();
  return layout.map((e) => {
    const view = row.subarray(e.offset, e.offset + e.size);
    return tf.tensor(aliases ? view.slice() : view, e.shape, 'float32');
  });
}
