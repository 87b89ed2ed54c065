// Index sampling for training: bootstrap resamples and shuffled minibatches.

import { PushInputError } from '../util/errors';
import { Rng } from '../util/rng';

/** N indices drawn uniformly from [0, N) with replacement (one bootstrap resample). */
export function bootstrapIndices(n: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(n);
  return out;
}

/**
 * Minibatches covering 0..N-1 once: shuffled by `rng` (one call per epoch),
 * or in order when `rng` is null. The last batch is kept even if partial.
 */
export function batchIndices(n: number, batchSize: number, rng: Rng | null): Int32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new PushInputError(`batch size ${batchSize}: expected a positive integer`);
  }
  const order = rng ? rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  const batches: Int32Array[] = [];
  for (let start = 0; start < n; start += batchSize) {
    batches.push(order.slice(start, Math.min(start + batchSize, n)));
  }
  return batches;
}
