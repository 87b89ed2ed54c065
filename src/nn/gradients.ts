// Loss and gradient of one particle (or a stack of particles) on one batch,
// written straight into host gradient rows.
//
// Dense stacks use the explicit backward pass of dense-backward.ts (~1.7x
// faster than the autodiff tape on wasm, same numbers). Everything else (conv
// nets, tfjs-layers models) goes through tf.valueAndGrads.
import { tf } from '../util/tf';
import { PushInputError } from '../util/errors';
import { Loss } from './losses';
import { nextFallbackDropoutSeed } from './dropout';
import { Network } from './network';
import { denseBatch, denseLossAndGrad, denseParamsFromTensors } from './dense-backward';

export type GradientMethod = 'auto' | 'explicit' | 'autodiff';

export interface LossAndGradOptions {
  /** Dropout active (default true: this is training). */
  training?: boolean;
  dropoutSeed?: number;
  /** Added to the network output before the loss (random-prior ensembles: beta * prior(x)). */
  outputOffset?: tf.Tensor;
  /** Multiplies the gradient (not the returned loss); default 1. */
  gradScale?: number;
  /** 'auto' (default): explicit for dense stacks, autodiff otherwise. */
  method?: GradientMethod;
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
  const method = opts.method ?? 'auto';
  if (method === 'explicit' && !network.isDenseStack) {
    throw new PushInputError('gradient method "explicit" needs a dense stack (dense, activations, dropout, flatten)');
  }
  const explicit = method === 'explicit' || (method === 'auto' && network.isDenseStack);
  let value = 0;
  tf.tidy(() => {
    if (explicit) {
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
