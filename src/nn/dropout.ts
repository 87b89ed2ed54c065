// Dropout masks drawn on the host from a seed, so the explicit backward pass,
// the autodiff path and every backend see exactly the same mask for the same
// (seed, layer) pair. Inverted dropout: kept elements are scaled by 1/(1-rate).
import { deriveSeed, Rng } from '../util/rng';

/** Mask values for `size` elements of dropout layer `layerIndex`: 0 or 1/(1-rate). */
export function dropoutMask(seed: number, layerIndex: number, rate: number, size: number): Float32Array {
  const mask = new Float32Array(size);
  const rng = new Rng(deriveSeed(seed, 0x64726f70, layerIndex));
  const keep = 1 / (1 - rate);
  for (let i = 0; i < size; i++) mask[i] = rng.next() < rate ? 0 : keep;
  return mask;
}

const fallbackSeeds = new Rng(0x5eed);

/**
 * A dropout seed for callers that train with dropout but pass none. Deterministic
 * within a process (a fixed stream), but depends on call order: pass seeds for
 * reproducibility across workers.
 */
export function nextFallbackDropoutSeed(): number {
  return Math.floor(fallbackSeeds.next() * 4294967296) >>> 0;
}
