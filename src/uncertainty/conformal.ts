// Split conformal prediction (Vovk et al. 2005; Lei et al. 2018) on the BMA's
// predictions, on plain arrays.
//
// On a calibration split of n examples, each gets a nonconformity score s_i
// (larger = the true answer fits the prediction worse). q̂ is the k-th smallest
// score, k = ⌈(n + 1)(1 − α)⌉ (q̂ = +∞ when k > n). For a new exchangeable
// example, P(y ∈ C(x)) ≥ 1 − α where C(x) = {y : s(x, y) ≤ q̂}.
// Scores:
// - LAC (Sadinle et al. 2019): s = 1 − p̄_y. Sets {c : p̄_c ≥ 1 − q̂}; may be empty.
// - APS, randomised (Romano, Sesia & Candès 2020): order classes by p̄ descending
//   (ties: smaller class index first); s = (mass of the classes ranked before y)
//   + u · p̄_y with u ~ U(0, 1). The set takes classes in that order while
//   (mass before c) + u · p̄_c ≤ q̂, with one u per test example; it may be empty.
//   u is drawn from a seeded generator: calibration and test use separate streams.
// - Regression, normalised by the BMA's predictive std σ: s = |y − μ| / σ,
//   intervals μ ± q̂ σ, one q̂ per target column (marginal coverage per column).

import { PushInputError, describeValue } from '../util/errors';
import { Rng, deriveSeed } from '../util/rng';

export type ConformalMethod = 'lac' | 'aps';
export const CONFORMAL_METHODS: readonly ConformalMethod[] = ['lac', 'aps'];

const APS_CALIBRATION_STREAM = 0x61707363; // "apsc"
const APS_TEST_STREAM = 0x61707374; // "apst"

function checkAlpha(alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new PushInputError(`alpha ${describeValue(alpha)}: expected a number in (0, 1), e.g. 0.1 for 90% coverage`);
}

/**
 * The k-th smallest score, k = ⌈(n + 1)(1 − α)⌉; +∞ when k > n (too few
 * calibration examples for level α: every answer is then in the set).
 */
export function conformalQuantile(scores: ArrayLike<number>, alpha: number): number {
  checkAlpha(alpha);
  const n = scores.length;
  if (n === 0) throw new PushInputError('no calibration scores: expected at least one calibration example');
  // The 1e-9 keeps (n + 1)(1 − α) = 9.000000000000002 from rounding up to 10.
  const k = Math.ceil((n + 1) * (1 - alpha) - 1e-9);
  if (k > n) return Infinity;
  const sorted = Float64Array.from(scores);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(sorted[i])) throw new PushInputError(`calibration score ${i} is NaN: expected a number`);
  }
  sorted.sort();
  return sorted[Math.max(k, 1) - 1];
}

function checkProbsLabels(probs: Float32Array, C: number, n: number): void {
  if (!Number.isInteger(C) || C < 1) throw new PushInputError(`C = ${describeValue(C)}: expected a positive integer`);
  if (probs.length !== n * C) throw new PushInputError(`probs has length ${probs.length}: expected ${n * C} ([N = ${n}, C = ${C}])`);
}

/** Class indices of one row ordered by probability, descending; ties to the smaller index. */
function rankOrder(probs: ArrayLike<number>, offset: number, C: number): number[] {
  return Array.from({ length: C }, (_, c) => c).sort((a, b) => probs[offset + b] - probs[offset + a] || a - b);
}

/** APS score of `label` for one row of probabilities, with randomisation u in [0, 1]. */
export function apsScore(row: ArrayLike<number>, label: number, u: number): number {
  let before = 0;
  for (const c of rankOrder(row, 0, row.length)) {
    if (c === label) return before + u * row[c];
    before += row[c];
  }
  throw new PushInputError(`label ${describeValue(label)}: expected a class index in [0, ${row.length})`);
}

/** APS set of one row at threshold q̂ with randomisation u: a 0/1 flag per class. */
export function apsSet(row: ArrayLike<number>, qhat: number, u: number): Uint8Array {
  const set = new Uint8Array(row.length);
  let before = 0;
  for (const c of rankOrder(row, 0, row.length)) {
    if (before + u * row[c] > qhat) break;
    set[c] = 1;
    before += row[c];
  }
  return set;
}

/** What a fitted conformal classifier stores (JSON-serialisable, for a checkpoint). */
export interface ConformalClassifier {
  method: ConformalMethod;
  alpha: number;
  /** Score threshold; Infinity (stored as null in JSON) when n is too small for alpha. */
  qhat: number;
  /** Calibration examples. */
  n: number;
}

/** Nonconformity scores of the calibration examples. */
export function classificationScores(
  probs: Float32Array,
  C: number,
  labels: ArrayLike<number>,
  method: ConformalMethod,
  seed = 0,
): Float64Array {
  const n = labels.length;
  checkProbsLabels(probs, C, n);
  if (!CONFORMAL_METHODS.includes(method)) throw new PushInputError(`conformal method ${describeValue(method)}: expected lac or aps`);
  const rng = new Rng(deriveSeed(seed, APS_CALIBRATION_STREAM));
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new PushInputError(`labels[${i}] = ${describeValue(y)}: expected a class index in [0, ${C})`);
    scores[i] = method === 'lac' ? 1 - probs[i * C + y] : apsScore(probs.subarray(i * C, (i + 1) * C), y, rng.next());
  }
  return scores;
}

/** Fits q̂ on a calibration split of BMA probabilities probs [n, C]. */
export function fitConformalClassifier(
  probs: Float32Array,
  C: number,
  labels: ArrayLike<number>,
  alpha: number,
  method: ConformalMethod = 'aps',
  seed = 0,
): ConformalClassifier {
  checkAlpha(alpha);
  const qhat = conformalQuantile(classificationScores(probs, C, labels, method, seed), alpha);
  return { method, alpha, qhat, n: labels.length };
}

export interface PredictionSets {
  /** [N, C]: 1 when class c is in example n's set. */
  member: Uint8Array;
  /** Classes in each set. */
  size: Int32Array;
}

/** Prediction sets for probs [N, C]; APS draws one u per example from `seed`'s test stream. */
export function conformalSets(model: ConformalClassifier, probs: Float32Array, C: number, seed = 0): PredictionSets {
  const N = Math.floor(probs.length / C);
  checkProbsLabels(probs, C, N);
  const qhat = model.qhat ?? Infinity; // null after a JSON round trip
  const member = new Uint8Array(N * C);
  const size = new Int32Array(N);
  const rng = new Rng(deriveSeed(seed, APS_TEST_STREAM));
  for (let n = 0; n < N; n++) {
    const row = probs.subarray(n * C, (n + 1) * C);
    const set = model.method === 'lac' ? Uint8Array.from(row, (p) => (1 - p <= qhat ? 1 : 0)) : apsSet(row, qhat, rng.next());
    member.set(set, n * C);
    for (const f of set) size[n] += f;
  }
  return { member, size };
}

/** Fraction of examples whose label is in its set, and the mean set size. */
export function setCoverage(sets: PredictionSets, C: number, labels: ArrayLike<number>): { coverage: number; meanSize: number } {
  const n = labels.length;
  if (sets.size.length !== n) throw new PushInputError(`sets cover ${sets.size.length} examples: expected ${n}, one per label`);
  let covered = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    covered += sets.member[i * C + labels[i]];
    total += sets.size[i];
  }
  return { coverage: covered / n, meanSize: total / n };
}

// ---------------------------------------------------------------------------
// Regression.

export interface ConformalRegressor {
  alpha: number;
  /** One threshold per target column, in units of the predictive std. */
  qhat: number[];
  n: number;
}

function checkRegression(mean: Float32Array, std: Float32Array, d: number, y?: Float32Array): number {
  if (!Number.isInteger(d) || d < 1) throw new PushInputError(`d = ${describeValue(d)}: expected a positive integer (targets per example)`);
  if (mean.length % d !== 0) throw new PushInputError(`mean has length ${mean.length}: expected a multiple of d = ${d}`);
  if (std.length !== mean.length) throw new PushInputError(`std has length ${std.length}: expected ${mean.length}, one per mean`);
  if (y !== undefined && y.length !== mean.length) throw new PushInputError(`y has length ${y.length}: expected ${mean.length}, one per mean`);
  for (let i = 0; i < std.length; i++) {
    if (!(std[i] > 0) || !Number.isFinite(std[i])) throw new PushInputError(`std[${i}] = ${describeValue(std[i])}: expected a finite number > 0`);
  }
  return mean.length / d;
}

/** Fits one q̂ per target column from calibration predictions (mean, std) [n, d] and targets y [n, d]. */
export function fitConformalRegressor(mean: Float32Array, std: Float32Array, y: Float32Array, d: number, alpha: number): ConformalRegressor {
  checkAlpha(alpha);
  const n = checkRegression(mean, std, d, y);
  const qhat: number[] = [];
  for (let j = 0; j < d; j++) {
    const scores = Float64Array.from({ length: n }, (_, i) => Math.abs(y[i * d + j] - mean[i * d + j]) / std[i * d + j]);
    qhat.push(conformalQuantile(scores, alpha));
  }
  return { alpha, qhat, n };
}

/** Intervals μ ± q̂_j σ for predictions [N, d]. */
export function conformalIntervals(model: ConformalRegressor, mean: Float32Array, std: Float32Array): { lower: Float32Array; upper: Float32Array } {
  const d = model.qhat.length;
  checkRegression(mean, std, d);
  const lower = new Float32Array(mean.length);
  const upper = new Float32Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    const half = (model.qhat[i % d] ?? Infinity) * std[i];
    lower[i] = mean[i] - half;
    upper[i] = mean[i] + half;
  }
  return { lower, upper };
}

/** Fraction of targets inside their intervals, and the mean width. */
export function intervalCoverage(lower: Float32Array, upper: Float32Array, y: Float32Array): { coverage: number; meanWidth: number } {
  if (lower.length !== y.length || upper.length !== y.length) throw new PushInputError(`intervals have length ${lower.length}: expected ${y.length}, one per target`);
  let inside = 0;
  let width = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] >= lower[i] && y[i] <= upper[i]) inside++;
    width += upper[i] - lower[i];
  }
  return { coverage: inside / y.length, meanWidth: width / y.length };
}
