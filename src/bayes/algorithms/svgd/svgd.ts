// Stein variational gradient descent (Liu & Wang 2016, "Stein Variational Gradient
// Descent: A General Purpose Bayesian Inference Algorithm"), on flat parameter vectors.
//
//   phi(θ_i) = (1/n) Σ_j [ k(θ_j, θ_i) ∇log p(θ_j) + ∇_{θ_j} k(θ_j, θ_i) ]
//
// with the RBF kernel k(a, b) = exp(−‖a − b‖² / h), whose gradient
//   ∇_{θ_j} k(θ_j, θ_i) = −(2/h)(θ_j − θ_i) k(θ_j, θ_i)
// is a vector from θ_j towards θ_i: adding it moves θ_i AWAY from θ_j (repulsion).
// Push gets this sign wrong and pulls particles together.
//
// phi is an ASCENT direction on log p: update θ_i ← θ_i + ε·phi_i (for an optimizer that
// minimises, hand it −phi as the gradient).

import { PushInputError, describeValue } from '../../../util/errors';

export interface SvgdOptions {
  /** 'median' (default): h = med² / log(n + 1), med = median pairwise distance; or a fixed h > 0. */
  bandwidth?: 'median' | number;
  /** false drops the kernel-gradient (repulsive) term: the particles then collapse onto modes. */
  repulsive?: boolean;
}

export interface SvgdDirection {
  /** [n, d] Stein direction, one row per particle. */
  phi: Float32Array;
  /** The bandwidth used. */
  h: number;
}

/**
 * Columns per block: the O(n²d) loops walk the parameters in column blocks so that a
 * block of all n particles (~512 KB) stays in cache instead of streaming the whole
 * [n, d] arrays from memory n times.
 */
function columnBlock(n: number): number {
  return Math.min(16384, Math.max(256, Math.floor(65536 / n)));
}

/** Pairwise squared distances ‖θ_i − θ_j‖², [n, n] symmetric, float64. */
export function pairwiseSquaredDistances(thetas: Float32Array, n: number, d: number): Float64Array {
  const D2 = new Float64Array(n * n);
  const B = columnBlock(n);
  for (let k0 = 0; k0 < d; k0 += B) {
    const k1 = Math.min(k0 + B, d);
    for (let i = 0; i < n; i++) {
      const oi = i * d;
      let j = i + 1;
      // Four partners at a time: θ_i[k] is read once for four distances.
      for (; j + 3 < n; j += 4) {
        const o0 = j * d;
        const o1 = o0 + d;
        const o2 = o1 + d;
        const o3 = o2 + d;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = k0; k < k1; k++) {
          const a = thetas[oi + k];
          const e0 = a - thetas[o0 + k];
          const e1 = a - thetas[o1 + k];
          const e2 = a - thetas[o2 + k];
          const e3 = a - thetas[o3 + k];
          s0 += e0 * e0;
          s1 += e1 * e1;
          s2 += e2 * e2;
          s3 += e3 * e3;
        }
        D2[i * n + j] += s0;
        D2[i * n + j + 1] += s1;
        D2[i * n + j + 2] += s2;
        D2[i * n + j + 3] += s3;
      }
      for (; j < n; j++) {
        const oj = j * d;
        let s = 0;
        for (let k = k0; k < k1; k++) {
          const e = thetas[oi + k] - thetas[oj + k];
          s += e * e;
        }
        D2[i * n + j] += s;
      }
    }
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) D2[j * n + i] = D2[i * n + j];
  return D2;
}

/**
 * Median heuristic (Liu & Wang 2016, §5): h = med² / log(n + 1), med the median of the
 * n(n−1)/2 distances ‖θ_i − θ_j‖ (i < j; mean of the two middle ones when their count is even).
 * Then a typical particle's kernel weight from the others, ≈ n·exp(−med²/h) = n/(n+1), balances
 * its own weight k(θ_i, θ_i) = 1.
 * Falls back to h = 1 when n = 1 or med = 0 (all particles equal).
 */
export function medianBandwidth(squaredDistances: Float64Array, n: number): number {
  if (n < 2) return 1;
  const dist = new Float64Array((n * (n - 1)) / 2);
  let at = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) dist[at++] = Math.sqrt(squaredDistances[i * n + j]);
  dist.sort();
  const m = dist.length;
  const med = m % 2 === 1 ? dist[(m - 1) / 2] : 0.5 * (dist[m / 2 - 1] + dist[m / 2]);
  if (!(med > 0) || !Number.isFinite(med)) return 1;
  return (med * med) / Math.log(n + 1);
}

function checkShape(name: string, arr: Float32Array, n: number, d: number): void {
  if (!(arr instanceof Float32Array) || arr.length !== n * d) {
    throw new PushInputError(`${name} has length ${arr?.length}: expected a Float32Array [n = ${n}, d = ${d}]`);
  }
}

/** The Stein variational direction for every particle (O(n²d), accumulated in float64). */
export function svgdDirection(
  thetas: Float32Array,
  gradLogP: Float32Array,
  n: number,
  d: number,
  opts: SvgdOptions = {},
): SvgdDirection {
  if (!Number.isInteger(n) || n < 1) throw new PushInputError(`n = ${describeValue(n)}: expected a positive integer (particles)`);
  if (!Number.isInteger(d) || d < 1) throw new PushInputError(`d = ${describeValue(d)}: expected a positive integer (parameters)`);
  checkShape('thetas', thetas, n, d);
  checkShape('gradLogP', gradLogP, n, d);
  const bandwidth = opts.bandwidth ?? 'median';
  const repulsive = opts.repulsive ?? true;
  if (bandwidth !== 'median' && !(typeof bandwidth === 'number' && bandwidth > 0 && Number.isFinite(bandwidth))) {
    throw new PushInputError(`bandwidth = ${describeValue(bandwidth)}: expected "median" or a finite number > 0`);
  }

  const D2 = pairwiseSquaredDistances(thetas, n, d);
  const h = bandwidth === 'median' ? medianBandwidth(D2, n) : bandwidth;
  const K = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) K[i] = Math.exp(-D2[i] / h);

  // phi_i = (1/n) [ Σ_j K_ij g_j + (2/h) ( θ_i Σ_j K_ij − Σ_j K_ij θ_j ) ]
  // (the repulsive part rewritten from −(2/h) Σ_j K_ij (θ_j − θ_i)).
  const twoOverH = 2 / h;
  const selfWeight = new Float64Array(n); // (2/h) Σ_j K_ij, the coefficient of θ_i
  if (repulsive) {
    for (let i = 0; i < n; i++) {
      let rowSum = 0;
      for (let j = 0; j < n; j++) rowSum += K[i * n + j];
      selfWeight[i] = twoOverH * rowSum;
    }
  }
  // Per column block: c_j = g_j − (2/h) θ_j (just g_j without repulsion), then
  // phi_i = (1/n) [ Σ_j K_ij c_j + selfWeight_i θ_i ], summing four j at a time.
  const phi = new Float32Array(n * d);
  const B = columnBlock(n);
  const c = new Float64Array(n * B);
  const acc = new Float64Array(B);
  const thetaCoef = repulsive ? twoOverH : 0;
  for (let k0 = 0; k0 < d; k0 += B) {
    const len = Math.min(B, d - k0);
    for (let j = 0; j < n; j++) {
      const src = j * d + k0;
      const dst = j * B;
      for (let k = 0; k < len; k++) c[dst + k] = gradLogP[src + k] - thetaCoef * thetas[src + k];
    }
    for (let i = 0; i < n; i++) {
      acc.fill(0);
      const row = i * n;
      let j = 0;
      for (; j + 3 < n; j += 4) {
        const w0 = K[row + j];
        const w1 = K[row + j + 1];
        const w2 = K[row + j + 2];
        const w3 = K[row + j + 3];
        const o0 = j * B;
        const o1 = o0 + B;
        const o2 = o1 + B;
        const o3 = o2 + B;
        for (let k = 0; k < len; k++) acc[k] += w0 * c[o0 + k] + w1 * c[o1 + k] + w2 * c[o2 + k] + w3 * c[o3 + k];
      }
      for (; j < n; j++) {
        const w = K[row + j];
        const o = j * B;
        for (let k = 0; k < len; k++) acc[k] += w * c[o + k];
      }
      const oi = i * d + k0;
      const self = selfWeight[i];
      for (let k = 0; k < len; k++) phi[oi + k] = (acc[k] + self * thetas[oi + k]) / n;
    }
  }
  return { phi, h };
}

export interface SvgdPosteriorOptions {
  /** Training-set size: the likelihood of N examples is N × the mean loss. */
  N: number;
  /** Posterior temperature T (1 = the Bayes posterior; < 1 sharpens, > 1 flattens). */
  temperature?: number;
  /** Std of the isotropic Gaussian prior N(0, priorStd² I). */
  priorStd?: number;
}

/**
 * ∇θ log p(θ | D) for the target log p(θ | D) = −(N/T)·mean_loss(θ) − ‖θ‖² / (2 priorStd²) + const,
 * from the gradient of the minibatch MEAN loss (an unbiased estimate of ∇mean_loss):
 *   −(N/T)·∇mean_loss − θ / priorStd².
 */
export function svgdLogPosteriorGrad(
  lossGrad: Float32Array,
  theta: Float32Array,
  opts: SvgdPosteriorOptions,
): Float32Array {
  const { N } = opts;
  const temperature = opts.temperature ?? 1;
  const priorStd = opts.priorStd ?? 1;
  if (!(N > 0) || !Number.isFinite(N)) throw new PushInputError(`N = ${describeValue(N)}: expected the training-set size, a number > 0`);
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new PushInputError(`temperature = ${describeValue(temperature)}: expected a finite number > 0`);
  }
  if (!(priorStd > 0) || !Number.isFinite(priorStd)) {
    throw new PushInputError(`priorStd = ${describeValue(priorStd)}: expected a finite number > 0`);
  }
  if (lossGrad.length !== theta.length) {
    throw new PushInputError(`lossGrad has length ${lossGrad.length}: expected ${theta.length}, the length of theta`);
  }
  const likelihoodScale = N / temperature;
  const priorPrecision = 1 / (priorStd * priorStd);
  const out = new Float32Array(theta.length);
  for (let k = 0; k < theta.length; k++) out[k] = -likelihoodScale * lossGrad[k] - priorPrecision * theta[k];
  return out;
}
