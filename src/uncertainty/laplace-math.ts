// Last-layer Laplace approximation (Daxberger et al. 2021, "Laplace Redux"),
// the maths only, on plain arrays: the later `laplace` algorithm feeds it the
// penultimate features and last-layer weights of each MAP particle.
//
// Conventions (following laplace-torch's formulas):
// - The last layer is f(x) = W̃ᵀ φ̃(x), φ̃ = [φ(x); 1] (H + 1 values), W̃ = [W; bᵀ]
//   ([H + 1, K]). Its parameters θ (P = (H + 1)·K) are in push-ens's flat order for
//   a dense layer: weight [H, K] row-major, then bias [K]; so θ[a·K + k] = W̃[a, k],
//   a = H being the bias row.
// - Prior N(0, δ⁻¹ I) on θ (δ the prior precision), posterior N(θ*, Σ) with
//   Σ⁻¹ = G + δ I and G the generalised Gauss–Newton (GGN) Hessian of the negative
//   log-likelihood at the MAP θ*:  G = Σ_n J_nᵀ Λ_n J_n, J_n = ∂f(x_n)/∂θ, so
//   G[(a,k), (b,k')] = Σ_n φ̃_a φ̃_b Λ_n[k, k'], with
//     regression (Gaussian noise σ²):  Λ_n = I / σ²,
//     classification (softmax):         Λ_n = diag(p_n) − p_n p_nᵀ, p_n = softmax(f(x_n)).
//   `diag` keeps only G's diagonal.
// - Log marginal likelihood (laplace-torch's log_marginal_likelihood):
//     log p(D | δ) ≈ log p(D | θ*) − ½ [ log det(G + δ I) − P log δ + δ ‖θ*‖² ],
//   with log p(D | θ*) = −Σ‖y − f‖² / (2σ²) − N K log(σ √(2π)) (regression) or
//   −Σ cross-entropy (classification). It is exact for a linear-Gaussian model.
// - The prior precision maximising it solves MacKay's fixed point
//   γ(δ) = Σ_i λ_i / (λ_i + δ) = δ ‖θ*‖² (λ_i the eigenvalues of G), whose left side
//   over δ decreases, so the root is unique; it is found by bisection on log δ.
// - Predictions: the last layer is linear in θ, so f(x) ~ N(f*(x), J Σ Jᵀ) exactly
//   under the posterior; var_k(x) = φ̃ᵀ Σ_kk φ̃ with Σ_kk[a, b] = Σ[(a,k), (b,k)].
//   Regression predictive variance adds σ². Classification: the probit
//   approximation p_k ∝ exp(f*_k / √(1 + π/8 · var_k)) (laplace-torch's 'probit'
//   link), or Monte Carlo over sampled θ.

import { PushInputError, describeValue } from '../util/errors';
import { Rng } from '../util/rng';
import { symmetricEigen } from './symmetric-eigen';

export type LaplaceLikelihood = 'regression' | 'classification';
export type HessianStructure = 'full' | 'diag';

export interface LastLayerInput {
  likelihood: LaplaceLikelihood;
  /** Penultimate features φ(x) [N, H], row-major. */
  features: Float32Array | Float64Array;
  N: number;
  H: number;
  /** Outputs: classes, or regression targets per example. */
  K: number;
  /** MAP last-layer parameters, flat: weight [H, K] then bias [K]. */
  theta: ArrayLike<number>;
  /** Targets: regression [N, K]; classification N class indices. */
  y: ArrayLike<number>;
  /** Regression noise std σ (default 1); ignored for classification. */
  sigmaNoise?: number;
}

function checkInput(inp: LastLayerInput): void {
  const { N, H, K } = inp;
  for (const [name, v, min] of [['N', N, 1], ['H', H, 1], ['K', K, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new PushInputError(`${name} = ${describeValue(v)}: expected an integer >= ${min}`);
  }
  if (inp.likelihood !== 'regression' && inp.likelihood !== 'classification') {
    throw new PushInputError(`likelihood ${describeValue(inp.likelihood)}: expected "regression" or "classification"`);
  }
  if (inp.features.length !== N * H) throw new PushInputError(`features has length ${inp.features.length}: expected ${N * H} ([N = ${N}, H = ${H}])`);
  if (inp.theta.length !== (H + 1) * K) throw new PushInputError(`theta has length ${inp.theta.length}: expected ${(H + 1) * K} (weight [${H}, ${K}] then bias [${K}])`);
  const yLength = inp.likelihood === 'regression' ? N * K : N;
  if (inp.y.length !== yLength) throw new PushInputError(`y has length ${inp.y.length}: expected ${yLength}`);
  if (inp.likelihood === 'classification') {
    for (let n = 0; n < N; n++) {
      if (!Number.isInteger(inp.y[n]) || inp.y[n] < 0 || inp.y[n] >= K) throw new PushInputError(`y[${n}] = ${describeValue(inp.y[n])}: expected a class index in [0, ${K})`);
    }
  }
  const sigma = inp.sigmaNoise ?? 1;
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new PushInputError(`sigmaNoise ${describeValue(sigma)}: expected a finite number > 0`);
}

/** f = W̃ᵀ φ̃ for features [N, H]: [N, K]. */
export function lastLayerForward(features: ArrayLike<number>, N: number, H: number, K: number, theta: ArrayLike<number>): Float64Array {
  const f = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = theta[H * K + k];
      for (let a = 0; a < H; a++) s += features[n * H + a] * theta[a * K + k];
      f[n * K + k] = s;
    }
  }
  return f;
}

/** Softmax of row n of f [N, K] into out. */
function softmaxRow(f: Float64Array, n: number, K: number, out: Float64Array): void {
  let max = -Infinity;
  for (let k = 0; k < K; k++) max = Math.max(max, f[n * K + k]);
  let sum = 0;
  for (let k = 0; k < K; k++) sum += out[k] = Math.exp(f[n * K + k] - max);
  for (let k = 0; k < K; k++) out[k] /= sum;
}

/** log p(D | θ*): Gaussian with noise σ (regression) or categorical (classification). */
export function lastLayerLogLikelihood(inp: LastLayerInput): number {
  checkInput(inp);
  const { N, H, K } = inp;
  const f = lastLayerForward(inp.features, N, H, K, inp.theta);
  if (inp.likelihood === 'regression') {
    const sigma = inp.sigmaNoise ?? 1;
    let sse = 0;
    for (let i = 0; i < N * K; i++) sse += (inp.y[i] - f[i]) ** 2;
    return -sse / (2 * sigma * sigma) - N * K * Math.log(sigma * Math.sqrt(2 * Math.PI));
  }
  let ll = 0;
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, f[n * K + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(f[n * K + k] - max);
    ll += f[n * K + inp.y[n]] - max - Math.log(sum);
  }
  return ll;
}

/**
 * The GGN of the negative log-likelihood at θ*: full [P, P] row-major, or its diagonal [P].
 * Cost: full O(N (H+1)² K²), diag O(N (H+1) K).
 */
export function lastLayerGgn(inp: LastLayerInput, structure: HessianStructure): Float64Array {
  checkInput(inp);
  const { N, H, K, features } = inp;
  const A = H + 1;
  const P = A * K;
  const phi = new Float64Array(A);
  phi[H] = 1;
  const lambda = new Float64Array(K * K); // Λ_n
  const f = inp.likelihood === 'classification' ? lastLayerForward(features, N, H, K, inp.theta) : null;
  const p = new Float64Array(K);
  const invVar = 1 / (inp.sigmaNoise ?? 1) ** 2;
  if (!f) for (let k = 0; k < K; k++) lambda[k * K + k] = invVar;
  const G = new Float64Array(structure === 'full' ? P * P : P);
  for (let n = 0; n < N; n++) {
    for (let a = 0; a < H; a++) phi[a] = features[n * H + a];
    if (f) {
      softmaxRow(f, n, K, p);
      for (let k = 0; k < K; k++) for (let k2 = 0; k2 < K; k2++) lambda[k * K + k2] = (k === k2 ? p[k] : 0) - p[k] * p[k2];
    }
    if (structure === 'diag') {
      for (let a = 0; a < A; a++) {
        const aa = phi[a] * phi[a];
        for (let k = 0; k < K; k++) G[a * K + k] += aa * lambda[k * K + k];
      }
      continue;
    }
    // Upper triangle (row index ≤ column index) of φ̃φ̃ᵀ ⊗ Λ_n; mirrored at the end.
    for (let a = 0; a < A; a++) {
      const pa = phi[a];
      if (pa === 0) continue;
      for (let k = 0; k < K; k++) {
        const row = (a * K + k) * P;
        for (let b = a; b < A; b++) {
          const w = pa * phi[b];
          if (w === 0) continue;
          for (let k2 = b === a ? k : 0; k2 < K; k2++) G[row + b * K + k2] += w * lambda[k * K + k2];
        }
      }
    }
  }
  if (structure === 'full') for (let i = 0; i < P; i++) for (let j = 0; j < i; j++) G[i * P + j] = G[j * P + i];
  return G;
}

/** G's eigen-decomposition (full) or its diagonal (diag): what every later quantity needs, for any δ. */
export interface GgnFactor {
  structure: HessianStructure;
  P: number;
  /** Eigenvalues of G (full, ascending; clamped at 0 against rounding), or its diagonal (diag). */
  values: Float64Array;
  /** Full only: eigenvectors as columns, [P, P] row-major. */
  vectors?: Float64Array;
}

export function factorGgn(G: Float64Array, P: number, structure: HessianStructure): GgnFactor {
  if (structure === 'diag') {
    if (G.length !== P) throw new PushInputError(`diagonal GGN has length ${G.length}: expected ${P}`);
    return { structure, P, values: Float64Array.from(G, (v) => Math.max(v, 0)) };
  }
  const { values, vectors } = symmetricEigen(G, P);
  return { structure, P, values: values.map((v) => Math.max(v, 0)), vectors };
}

function checkDelta(delta: number): void {
  if (!(delta > 0) || !Number.isFinite(delta)) throw new PushInputError(`prior precision ${describeValue(delta)}: expected a finite number > 0`);
}

function squaredNorm(theta: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < theta.length; i++) s += theta[i] * theta[i];
  return s;
}

/** log p(D | δ) ≈ logLik − ½ [Σ log(λ_i + δ) − P log δ + δ ‖θ*‖²]; see the conventions at the top. */
export function logMarginalLikelihood(factor: GgnFactor, logLik: number, theta: ArrayLike<number>, delta: number): number {
  checkDelta(delta);
  let logDet = 0;
  for (const v of factor.values) logDet += Math.log(v + delta);
  return logLik - 0.5 * (logDet - factor.P * Math.log(delta) + delta * squaredNorm(theta));
}

/** The δ maximising the log marginal likelihood, in [range[0], range[1]] (default [1e-8, 1e8]). */
export function optimizePriorPrecision(factor: GgnFactor, theta: ArrayLike<number>, range: readonly [number, number] = [1e-8, 1e8]): number {
  const s = squaredNorm(theta);
  // F(δ) = Σ λ/(δ(λ+δ)) − s: the derivative of 2·logML in δ, decreasing in δ.
  const F = (delta: number) => {
    let g = 0;
    for (const v of factor.values) g += v / (delta * (v + delta));
    return g - s;
  };
  let lo = Math.log(range[0]);
  let hi = Math.log(range[1]);
  if (F(range[1]) >= 0) return range[1];
  if (F(range[0]) <= 0) return range[0];
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = 0.5 * (lo + hi);
    if (F(Math.exp(mid)) > 0) lo = mid;
    else hi = mid;
  }
  return Math.exp(0.5 * (lo + hi));
}

/** A fitted last-layer Laplace approximation (one particle's). */
export interface LastLayerLaplace {
  likelihood: LaplaceLikelihood;
  structure: HessianStructure;
  H: number;
  K: number;
  P: number;
  /** MAP θ*, the posterior mean. */
  theta: Float64Array;
  priorPrecision: number;
  sigmaNoise: number;
  factor: GgnFactor;
  logMarginalLikelihood: number;
}

/**
 * Fits the posterior at θ*: the GGN, its factor, and the prior precision (a number,
 * or 'marglik' to maximise the log marginal likelihood).
 */
export function fitLastLayerLaplace(
  inp: LastLayerInput,
  opts: { structure?: HessianStructure; priorPrecision?: number | 'marglik' } = {},
): LastLayerLaplace {
  const structure = opts.structure ?? 'full';
  if (structure !== 'full' && structure !== 'diag') throw new PushInputError(`Hessian structure ${describeValue(structure)}: expected "full" or "diag"`);
  const G = lastLayerGgn(inp, structure);
  const P = (inp.H + 1) * inp.K;
  const factor = factorGgn(G, P, structure);
  const logLik = lastLayerLogLikelihood(inp);
  const choice = opts.priorPrecision ?? 'marglik';
  const delta = choice === 'marglik' ? optimizePriorPrecision(factor, inp.theta) : choice;
  checkDelta(delta);
  return {
    likelihood: inp.likelihood,
    structure,
    H: inp.H,
    K: inp.K,
    P,
    theta: Float64Array.from(inp.theta),
    priorPrecision: delta,
    sigmaNoise: inp.likelihood === 'regression' ? inp.sigmaNoise ?? 1 : 1,
    factor,
    logMarginalLikelihood: logMarginalLikelihood(factor, logLik, inp.theta, delta),
  };
}

/** Σ = (G + δ I)⁻¹: [P, P] row-major (full) or its diagonal [P] (diag). */
export function posteriorCovariance(post: LastLayerLaplace): Float64Array {
  const { factor, priorPrecision: delta, P } = post;
  const inv = Float64Array.from(factor.values, (v) => 1 / (v + delta));
  if (factor.structure === 'diag') return inv;
  const V = factor.vectors!;
  const S = new Float64Array(P * P);
  const row = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    for (let m = 0; m < P; m++) row[m] = V[i * P + m] * inv[m];
    for (let j = i; j < P; j++) {
      let s = 0;
      for (let m = 0; m < P; m++) s += row[m] * V[j * P + m];
      S[i * P + j] = s;
      S[j * P + i] = s;
    }
  }
  return S;
}

/**
 * The functional mean f*(x) [N, K] and variance var_k(x) = φ̃ᵀ Σ_kk φ̃ [N, K] for features [N, H].
 * `covariance` is posteriorCovariance(post), passed in so it is computed once.
 */
export function functionalMoments(
  post: LastLayerLaplace,
  covariance: Float64Array,
  features: ArrayLike<number>,
  N: number,
): { mean: Float64Array; variance: Float64Array } {
  const { H, K, P } = post;
  if (features.length !== N * H) throw new PushInputError(`features has length ${features.length}: expected ${N * H} ([N = ${N}, H = ${H}])`);
  const mean = lastLayerForward(features, N, H, K, post.theta);
  const variance = new Float64Array(N * K);
  const A = H + 1;
  const phi = new Float64Array(A);
  phi[H] = 1;
  for (let n = 0; n < N; n++) {
    for (let a = 0; a < H; a++) phi[a] = features[n * H + a];
    for (let k = 0; k < K; k++) {
      let v = 0;
      for (let a = 0; a < A; a++) {
        if (phi[a] === 0) continue;
        if (post.structure === 'diag') {
          v += phi[a] * phi[a] * covariance[a * K + k];
          continue;
        }
        const row = (a * K + k) * P;
        let s = 0;
        for (let b = 0; b < A; b++) s += covariance[row + b * K + k] * phi[b];
        v += phi[a] * s;
      }
      variance[n * K + k] = Math.max(v, 0);
    }
  }
  return { mean, variance };
}

/** Probit approximation: softmax_k(f*_k / √(1 + π/8 · var_k)) per row of [N, K]. */
export function probitProbabilities(mean: ArrayLike<number>, variance: ArrayLike<number>, N: number, K: number): Float32Array {
  if (mean.length !== N * K || variance.length !== N * K) throw new PushInputError(`mean and variance have lengths ${mean.length}, ${variance.length}: expected ${N * K} ([N, K])`);
  const scaled = Float64Array.from({ length: N * K }, (_, i) => mean[i] / Math.sqrt(1 + (Math.PI / 8) * variance[i]));
  const out = new Float32Array(N * K);
  const p = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    softmaxRow(scaled, n, K, p);
    for (let k = 0; k < K; k++) out[n * K + k] = p[k];
  }
  return out;
}

/**
 * S draws θ_s = θ* + Σ^{1/2} z, z ~ N(0, I) from a seeded generator: [S, P] in
 * push-ens's flat order. Full: Σ^{1/2} = V diag((λ + δ)^{-1/2}); diag: (λ + δ)^{-1/2}.
 */
export function sampleLastLayer(post: LastLayerLaplace, S: number, seed: number): Float32Array {
  if (!Number.isInteger(S) || S < 1) throw new PushInputError(`samples ${describeValue(S)}: expected a positive integer`);
  const { P, factor, priorPrecision: delta } = post;
  const scale = Float64Array.from(factor.values, (v) => 1 / Math.sqrt(v + delta));
  const rng = new Rng(seed);
  const out = new Float32Array(S * P);
  const z = new Float64Array(P);
  for (let s = 0; s < S; s++) {
    for (let m = 0; m < P; m++) z[m] = rng.normal() * scale[m];
    for (let i = 0; i < P; i++) {
      let v = post.theta[i];
      if (factor.structure === 'diag') v += z[i];
      else for (let m = 0; m < P; m++) v += factor.vectors![i * P + m] * z[m];
      out[s * P + i] = v;
    }
  }
  return out;
}
