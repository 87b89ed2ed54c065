// The tempered log posterior the gradient-based samplers (SVGD, SG-MCMC) target:
//   log p(theta | D) = -(N/T) * mean over examples of (loss summed over the example's outputs)
//                      - |theta|^2 / (2 priorStd^2) + const.
// The losses average over B*k elements for mse, bce and gaussian-nll (k target
// columns) and over B examples for cross-entropy, so the gradient of the mean
// minibatch loss is multiplied by k for the first three: every output of every
// example counts once, whatever the output width. For mse, loss = (f - y)^2 is
// -log N(y; f, 1/2) up to a constant: the noise variance is T/2.
import type { LossName } from '../../../nn/losses';

/** k: how many loss elements one example contributes to the mean (the target columns). */
export function elementsPerExample(loss: LossName, outputSize: number): number {
  if (loss === 'cross-entropy') return 1;
  if (loss === 'gaussian-nll') return outputSize / 2;
  return outputSize;
}

/** The factor c with grad log-likelihood = -c * grad(mean minibatch loss): N k / T. */
export function likelihoodScale(loss: LossName, outputSize: number, N: number, temperature: number): number {
  return (N * elementsPerExample(loss, outputSize)) / temperature;
}
