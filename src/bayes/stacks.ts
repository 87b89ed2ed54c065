// Prediction stacks [N, S, out] in the coordinator: assembled from the devices'
// [members, B, out] replies, given a Gaussian noise model (mse members), and
// mapped back to the data's original units.
import type { Normalization } from '../data/dataset';
import { VARIANCE_FLOOR } from './predictive';

/** One device's reply: members [pids.length x perParticle, B, out], particle-major. */
export interface DeviceStack {
  pids: readonly number[];
  out: Float32Array;
}

/**
 * Interleaves device replies into one stack [B, S, out] with S = P x perParticle;
 * member (pid, s) sits at index pid x perParticle + s (pids are 0..P-1).
 */
export function assembleStack(parts: readonly DeviceStack[], B: number, P: number, perParticle: number, out: number): Float32Array {
  const S = P * perParticle;
  const stack = new Float32Array(B * S * out);
  for (const { pids, out: data } of parts) {
    for (let j = 0; j < pids.length; j++) {
      for (let s = 0; s < perParticle; s++) {
        const local = j * perParticle + s;
        const member = pids[j] * perParticle + s;
        for (let b = 0; b < B; b++) {
          const src = (local * B + b) * out;
          stack.set(data.subarray(src, src + out), (b * S + member) * out);
        }
      }
    }
  }
  return stack;
}

/** Members [s0, s0 + count) of a stack [N, S, out], as [N, count, out]. */
export function memberSlice(stack: Float32Array, N: number, S: number, out: number, s0: number, count: number): Float32Array {
  const sub = new Float32Array(N * count * out);
  for (let n = 0; n < N; n++) {
    const src = (n * S + s0) * out;
    sub.set(stack.subarray(src, src + count * out), n * count * out);
  }
  return sub;
}

/** Inverse of softplus: the raw value whose softplus is v (v > 0). */
export function softplusInverse(v: number): number {
  // Below about 1e-300, expm1(v) = v underflows: the smallest raw there is.
  return v > 20 ? v + Math.log1p(-Math.exp(-v)) : Math.log(Math.max(Math.expm1(v), Number.MIN_VALUE));
}

/**
 * Gives every member of a plain regression stack [N, S, d] the Gaussian noise model
 * N(f_s(x), noiseVariance): a gaussian stack [N, S, 2d] (means, then raw variances with
 * softplus(raw) = noiseVariance: reduce it with varianceFloor 0, so no variance is floored).
 */
export function withNoiseVariance(stack: Float32Array, N: number, S: number, d: number, noiseVariance: readonly number[]): Float32Array {
  const raw = noiseVariance.map(softplusInverse);
  const g = new Float32Array(N * S * 2 * d);
  for (let r = 0; r < N * S; r++) {
    for (let j = 0; j < d; j++) {
      g[r * 2 * d + j] = stack[r * d + j];
      g[r * 2 * d + d + j] = raw[j];
    }
  }
  return g;
}

/** Per target column, the variance floor of a gaussian stack in original units: 1e-6 x std^2. */
export function originalUnitsFloor(norm: Normalization | undefined, d: number): number[] | undefined {
  if (!norm?.yMean || !norm.yStd) return undefined;
  return Array.from({ length: d }, (_, j) => VARIANCE_FLOOR * norm.yStd![j] * norm.yStd![j]);
}

/**
 * A regression stack in the data's original units: means y * std + mean and, for
 * gaussian stacks [.., 2d], variances times std^2. The whole variance softplus(raw) + 1e-6
 * scales: raw is re-encoded so that softplus(raw') = softplus(raw) std^2, and the reducer adds
 * the floor 1e-6 std^2 (originalUnitsFloor), so no variance is clamped to 1e-6 in original
 * units. Every reduction (mean, median, std, variance, pred, ...) is then in original units.
 */
export function stackToOriginalUnits(stack: Float32Array, N: number, S: number, out: number, gaussian: boolean, norm: Normalization | undefined): Float32Array {
  if (!norm?.yMean || !norm.yStd) return stack;
  const d = gaussian ? out / 2 : out;
  const { yMean, yStd } = norm;
  const res = new Float32Array(stack.length);
  for (let r = 0; r < N * S; r++) {
    const o = r * out;
    for (let j = 0; j < d; j++) {
      res[o + j] = stack[o + j] * yStd[j] + yMean[j];
      if (gaussian) {
        res[o + d + j] = softplusInverse(softplus(stack[o + d + j]) * yStd[j] * yStd[j]);
      }
    }
  }
  return res;
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
