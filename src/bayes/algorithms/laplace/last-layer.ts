// Where a model's last layer is: Laplace fits a Gaussian on the weights and bias
// of a final dense layer with nothing after it, so the output is linear in them.
// Shared by the coordinator (checks the model before any worker starts) and the
// devices (the feature network is the model without that layer). No tfjs here.
import { PushInputError } from '../../../util/errors';
import { ModelSpec, SequentialSpec, layerOutputShapes } from '../../../nn/spec';

export interface LastLayer {
  /** Width of the features φ(x) (the last layer's input). */
  H: number;
  /** Width of the output. */
  K: number;
  /** The model without its last layer, or null when the last layer is the whole model (features = inputs). */
  features: SequentialSpec | null;
  /** Offset of the last layer's weight in the flat parameter row; weight [H, K] then bias [K] run to the end. */
  offset: number;
}

/** The last dense layer of `spec`, or a one-line error saying what Laplace needs. */
export function lastLayerOf(spec: ModelSpec, numParams: number): LastLayer {
  if (spec.format !== 'push-ens/sequential') {
    throw new PushInputError('laplace needs a push-ens sequential model ending in a dense layer: this is a tfjs-layers model');
  }
  const layers = spec.layers;
  const last = layers[layers.length - 1];
  if (!last || last.type !== 'dense') {
    throw new PushInputError(`laplace needs a model whose last layer is dense (the output linear in its weights): this one ends with ${last ? `a ${last.type} layer` : 'no layer'}`);
  }
  const shapes = layerOutputShapes(spec);
  const input = layers.length > 1 ? shapes[layers.length - 2] : spec.inputShape;
  if (input.length !== 1) throw new PushInputError(`laplace needs flat features before the last dense layer: its input has shape [${input.join(', ')}]`);
  const H = input[0];
  const K = last.units;
  return { H, K, features: layers.length > 1 ? { ...spec, layers: layers.slice(0, -1) } : null, offset: numParams - (H + 1) * K };
}
