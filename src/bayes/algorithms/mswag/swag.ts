// SWAG moments (Maddox et al. 2019, "A Simple Baseline for Bayesian Uncertainty
// in Deep Learning"), kept PER PARTICLE: each particle owns one SwagMoments with
// its own counter (Push shares one counter across particles, which mixes up the
// running averages).

import { PushInputError, describeValue } from '../../../util/errors';
import { Rng } from '../../../util/rng';

/** Plain-object state for checkpoints and worker messages. Deviations are [numDeviations, n], oldest first. */
export interface SwagState {
  n: number;
  rank: number;
  count: number;
  mean: Float64Array;
  sqMean: Float64Array;
  numDeviations: number;
  deviations: Float32Array;
}

export interface SwagSampleOptions {
  /** Covariance scale (SWAG paper: 0.5 for MultiSWAG). */
  scale?: number;
  /** Floor on the diagonal variance sqMean − mean² (guards rounding below 0). */
  varClamp?: number;
}

export const DEFAULT_SWAG_RANK = 20;

export class SwagMoments {
  readonly n: number;
  /** K: how many of the latest deviations are kept for the low-rank term. */
  readonly rank: number;
  private collected = 0;
  /** Running first moment of θ (float64). */
  readonly mean: Float64Array;
  /** Running second moment of θ, elementwise (float64). */
  readonly sqMean: Float64Array;
  // Ring buffer of the last K deviations θ − mean (mean after the update), [K, n].
  private readonly ring: Float32Array;
  private ringNext = 0; // slot the next deviation goes to
  private held = 0; // deviations held, ≤ K

  constructor(n: number, rank = DEFAULT_SWAG_RANK) {
    if (!Number.isInteger(n) || n < 1) throw new PushInputError(`n = ${describeValue(n)}: expected a positive integer (parameter count)`);
    if (!Number.isInteger(rank) || rank < 0) {
      throw new PushInputError(`rank = ${describeValue(rank)}: expected a non-negative integer (0 = diagonal SWAG)`);
    }
    this.n = n;
    this.rank = rank;
    this.mean = new Float64Array(n);
    this.sqMean = new Float64Array(n);
    this.ring = new Float32Array(rank * n);
  }

  /** Iterates collected. */
  get count(): number {
    return this.collected;
  }

  /** Deviations currently held (k ≤ K). */
  get numDeviations(): number {
    return this.held;
  }

  /**
   * Add one iterate θ (typically once per epoch):
   *   mean ← mean + (θ − mean)/count,  sqMean ← sqMean + (θ² − sqMean)/count,
   * then store θ − mean (with the updated mean) as the newest deviation, dropping the oldest beyond K.
   */
  collect(theta: Float32Array): void {
    if (theta.length !== this.n) throw new PushInputError(`theta has length ${theta.length}: expected ${this.n} parameters`);
    this.collected++;
    const inv = 1 / this.collected;
    const { mean, sqMean, n } = this;
    for (let j = 0; j < n; j++) {
      const t = theta[j];
      mean[j] += (t - mean[j]) * inv;
      sqMean[j] += (t * t - sqMean[j]) * inv;
    }
    if (this.rank === 0) return;
    const off = this.ringNext * n;
    for (let j = 0; j < n; j++) this.ring[off + j] = theta[j] - mean[j];
    this.ringNext = (this.ringNext + 1) % this.rank;
    if (this.held < this.rank) this.held++;
  }

  /** Slot in the ring of the i-th held deviation, oldest first. */
  private slot(i: number): number {
    return (this.ringNext - this.held + i + this.rank) % this.rank;
  }

  /** A copy of the deviation matrix D, [k, n] row-major, oldest first (collection order). */
  deviations(): Float32Array {
    const D = new Float32Array(this.held * this.n);
    for (let i = 0; i < this.held; i++) {
      const off = this.slot(i) * this.n;
      D.set(this.ring.subarray(off, off + this.n), i * this.n);
    }
    return D;
  }

  /** Diagonal variance max(sqMean − mean², varClamp), float64. */
  variance(varClamp = 1e-30): Float64Array {
    const v = new Float64Array(this.n);
    for (let j = 0; j < this.n; j++) v[j] = Math.max(this.sqMean[j] - this.mean[j] * this.mean[j], varClamp);
    return v;
  }

  /**
   * One weight sample (SWAG, Maddox et al. 2019, eq. for the low-rank-plus-diagonal Gaussian):
   *   θ = mean + sqrt(scale) · ( sqrt(max(sqMean − mean², varClamp)) ⊙ z1 + Dᵀ z2 / sqrt(max(k − 1, 1)) )
   * with D the [k, n] held deviations, z1 ~ N(0, I_n), z2 ~ N(0, I_k). Once K deviations are held
   * the divisor is sqrt(K − 1) as in the paper; before that it is sqrt(k − 1) (the sample-covariance
   * normaliser of the deviations actually held), and 1 when k ≤ 1. (Push divides by
   * sqrt(num_samples − 1), which shrinks the low-rank term as more samples are drawn.)
   * The covariance of θ is scale · (diag(var) + DᵀD / max(k − 1, 1)).
   * Draw order: z2 (k values, oldest deviation first), then z1 (n values).
   */
  sample(rng: Rng, opts: SwagSampleOptions = {}): Float32Array {
    const scale = opts.scale ?? 0.5;
    const varClamp = opts.varClamp ?? 1e-30;
    if (!(scale >= 0) || !Number.isFinite(scale)) throw new PushInputError(`scale = ${describeValue(scale)}: expected a finite number >= 0`);
    if (!(varClamp >= 0) || !Number.isFinite(varClamp)) {
      throw new PushInputError(`varClamp = ${describeValue(varClamp)}: expected a finite number >= 0`);
    }
    if (this.collected === 0) throw new PushInputError('SWAG has collected no iterates: expected collect() before sample()');
    const { n, mean, sqMean } = this;
    const k = this.held;
    const z2 = new Float64Array(k);
    for (let i = 0; i < k; i++) z2[i] = rng.normal();
    const lowRankScale = 1 / Math.sqrt(Math.max(k - 1, 1));
    // Dᵀ z2, accumulated row by row (rows are contiguous in the ring).
    const lowRank = new Float64Array(n);
    for (let i = 0; i < k; i++) {
      const w = z2[i] * lowRankScale;
      const off = this.slot(i) * n;
      for (let j = 0; j < n; j++) lowRank[j] += w * this.ring[off + j];
    }
    const sqrtScale = Math.sqrt(scale);
    const theta = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      const sd = Math.sqrt(Math.max(sqMean[j] - mean[j] * mean[j], varClamp));
      theta[j] = mean[j] + sqrtScale * (sd * rng.normal() + lowRank[j]);
    }
    return theta;
  }

  /** A self-contained copy of the state (typed arrays + numbers). */
  toState(): SwagState {
    return {
      n: this.n,
      rank: this.rank,
      count: this.collected,
      mean: this.mean.slice(),
      sqMean: this.sqMean.slice(),
      numDeviations: this.held,
      deviations: this.deviations(),
    };
  }

  static fromState(state: SwagState): SwagMoments {
    if (state === null || typeof state !== 'object') throw new PushInputError(`SWAG state = ${describeValue(state)}: expected an object`);
    const m = new SwagMoments(state.n, state.rank);
    const { n, rank } = m;
    if (!Number.isInteger(state.count) || state.count < 0) {
      throw new PushInputError(`SWAG state count = ${describeValue(state.count)}: expected a non-negative integer`);
    }
    const k = state.numDeviations;
    if (!Number.isInteger(k) || k < 0 || k > rank || k > state.count) {
      throw new PushInputError(`SWAG state numDeviations = ${describeValue(k)}: expected an integer in [0, min(rank ${rank}, count ${state.count})]`);
    }
    if (!(state.mean instanceof Float64Array) || state.mean.length !== n) {
      throw new PushInputError(`SWAG state mean: expected a Float64Array of length ${n}`);
    }
    if (!(state.sqMean instanceof Float64Array) || state.sqMean.length !== n) {
      throw new PushInputError(`SWAG state sqMean: expected a Float64Array of length ${n}`);
    }
    if (!(state.deviations instanceof Float32Array) || state.deviations.length !== k * n) {
      throw new PushInputError(`SWAG state deviations: expected a Float32Array of length ${k} × ${n}`);
    }
    m.collected = state.count;
    m.mean.set(state.mean);
    m.sqMean.set(state.sqMean);
    // Held deviations go to slots 0..k-1, oldest first; the next one goes to slot k (mod K).
    m.ring.set(state.deviations);
    m.held = k;
    m.ringNext = rank === 0 ? 0 : k % rank;
    return m;
  }
}
