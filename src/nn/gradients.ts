// Loss and gradient of one particle (or a stack of particles) on one batch,
// written straight into host gradient rows.
//
// Dense stacks use the explicit backward pass of dense-backward.ts (~1.7x
// faster than the autodiff tape on wasm, same numbers). Sequential conv nets
// use conv-backward.ts on wasm and cpu (tfjs's conv and pool gradients are
// slow there). Everything else (tfjs-layers models, 'same' pooling, conv nets
// on the tensorflow backend) goes through tf.valueAndGrads.
import { tf } from '../util/tf';
import { PushInputError } from '../util/errors';
import { Loss } from './losses';
import { nextFallbackDropoutSeed } from './dropout';
import { Network } from './network';
import { denseBatch, denseLossAndGrad, denseParamsFromTensors } from './dense-backward';
import { convBatch, convExplicitSupported, convLossAndGrad } from './conv-backward';

export type GradientMethod = 'auto' | 'explicit' | 'autodiff';

export interface LossAndGradOptions {
  /** Dropout active (default true: this is training). */
  training?: boolean;
  dropoutSeed?: number;
  /** Added to the network output before the loss (random-prior ensembles: beta * prior(x)). */
  outputOffset?: tf.Tensor;
  /** Multiplies the gradient (not the returned loss); default 1. */
  gradScale?: number;
  /** 'auto' (default): see explicitPath. */
  method?: GradientMethod;
}

export const EXPLICIT_UNSUPPORTED =
  'needs a dense stack (dense, activations, dropout, flatten) or a sequential conv net with "valid" pooling';

/**
 * Which explicit backward pass a method selects: 'dense', 'conv' or null (autodiff).
 * 'auto': dense stacks always; conv nets on wasm and cpu (tensorflow's own conv gradients are fast).
 */
export function explicitPath(network: Network, method: GradientMethod): 'dense' | 'conv' | null {
  if (method === 'autodiff') return null;
  if (network.isDenseStack) return 'dense';
  if (!convExplicitSupported(network)) {
    if (method === 'explicit') throw new PushInputError(`gradient method "explicit" ${EXPLICIT_UNSUPPORTED}`);
    return null;
  }
  return method === 'explicit' || tf.getBackend() !== 'tensorflow' ? 'conv' : null;
}

/**
 * Loss of `network` with parameters `params` on (x, y), its gradient written into
 * `gradOut` (a flat row of network.numParams). Returns the loss.
 */
export function lossAndGrad(
  network: Network,
  params: tf.Tensor[],
  x: tf.Tensor,
  y: tf.Tensor,
  loss: Loss,
  gradOut: Float32Array,
  opts: LossAndGradOptions = {},
): number {
  const target = loss.prepareTarget(y, network.outputSize);
  try {
    return lossAndGradPrepared(network, params, x, target, loss, gradOut, opts);
  } finally {
    if (target !== y) target.dispose();
  }
}

/** As lossAndGrad, with a target already passed through loss.prepareTarget. */
export function lossAndGradPrepared(
  network: Network,
  params: tf.Tensor[],
  x: tf.Tensor,
  target: tf.Tensor,
  loss: Loss,
  gradOut: Float32Array,
  opts: LossAndGradOptions = {},
): number {
  const training = opts.training ?? true;
  const dropoutSeed = training && network.hasDropout ? (opts.dropoutSeed ?? nextFallbackDropoutSeed()) : 0;
  const path = explicitPath(network, opts.method ?? 'auto');
  let value = 0;
  tf.tidy(() => {
    if (path === 'conv') {
      const convOpts = { training, dropoutSeed, outputOffset: opts.outputOffset };
      value = convLossAndGrad(network, params, convBatch(network, x), target, loss, gradOut, convOpts);
    } else if (path === 'dense') {
      value = denseLossAndGrad(network, denseParamsFromTensors(network, params), denseBatch(network, x), target, loss, [gradOut], {
        training,
        dropoutSeeds: [dropoutSeed],
        outputOffset: opts.outputOffset,
      })[0];
    } else {
      const offset = opts.outputOffset;
      const { value: v, grads } = network.valueAndGrads(
        params,
        x,
        (out) => loss.valueOf(offset ? tf.add(out, offset) : out, target) as tf.Scalar,
        { training, dropoutSeed },
      );
      value = v.dataSync()[0];
      grads.forEach((g, i) => gradOut.set(g.dataSync(), network.layout[i].offset));
    }
  });
  scaleInPlace(gradOut, opts.gradScale ?? 1);
  return value;
}

export function scaleInPlace(row: Float32Array, scale: number): void {
  if (scale !== 1) for (let i = 0; i < row.length; i++) row[i] *= scale;
}
