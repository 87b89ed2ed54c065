// Shared helpers for the src/nn tests: seeded data and array comparisons.
import { tf } from '../../src/util/tf';
import { Rng } from '../../src/util/rng';

/** A seeded standard-normal tensor (same values on every backend). */
export function normalTensor(shape: number[], seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(new Rng(seed).fillNormal(new Float32Array(size)), shape);
}

/** Largest |a_i - b_i|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max|a - b| / max|b|: a relative error that ignores tiny entries' noise. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return maxAbsDiff(a, b) / (scale || 1);
}

export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}
