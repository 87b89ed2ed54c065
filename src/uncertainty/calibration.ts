// Post-hoc calibration of the Bayesian model average, on plain arrays.
//
// Classification: temperature scaling (Guo et al. 2017) with ONE temperature
// for the BMA, applied to the log of the BMA probabilities:
//     p_T(c | x) = p̄(c | x)^(1/T) / Σ_k p̄(k | x)^(1/T)  = softmax(log p̄ / T).
// For one member this is exactly Guo et al.'s softmax(z / T). For a mixture it
// acts on the model average itself, not on each member's logits, so that
// - it needs only the BMA, whatever produced it (members, MC samples, probit);
// - it is monotone per example, so the arg-max and the accuracy never change.
// (Dividing each member's logits by T instead can change the BMA's arg-max.)
// T > 1 softens over-confident predictions, T < 1 sharpens. T is fitted by
// minimising the mean NLL on a validation split; NLL is convex in β = 1/T
// (a log-sum-exp of functions linear in β, minus a linear term), so a
// safeguarded Newton iteration on β finds the global minimum.
//
// Regression: one variance scale s for the predictive N(μ, σ²) → N(μ, s σ²),
// fitted by minimising the mean Gaussian NLL: in closed form s = mean((y − μ)² / σ²).
// Intervals are central: μ ± z_{(1+p)/2} σ for level p.

import { PushInputError, describeValue } from '../util/errors';
import { ClassificationMetrics, ClassLabels, classificationMetrics, gaussianNll } from '../bayes/metrics';
import { normalCdf, normalQuantile } from './normal';

/** p̄ is floored here before its log, so a class the BMA gives probability 0 stays finite. */
export const LOG_PROB_FLOOR = 1e-30;
export const DEFAULT_TEMPERATURE_RANGE: readonly [number, number] = [0.01, 100];

function checkProbs(probs: Float32Array, C: number, n?: number): number {
  if (!Number.isInteger(C) || C < 1) throw new PushInputError(`C = ${describeValue(C)}: expected a positive integer`);
  if (probs.length % C !== 0 || (n !== undefined && probs.length !== n * C)) {
    throw new PushInputError(`probs has length ${probs.length}: expected ${n === undefined ? 'a multiple of C' : n * C} ([N, C = ${C}])`);
  }
  return probs.length / C;
}

function checkTemperature(T: number): void {
  if (!(T > 0) || !Number.isFinite(T)) throw new PushInputError(`temperature ${describeValue(T)}: expected a finite number > 0`);
}

/** softmax(log p̄ / T) per row of probs [N, C]; T = 1 returns the probabilities renormalised. */
export function applyTemperature(probs: Float32Array, C: number, T: number): Float32Array {
  checkProbs(probs, C);
  checkTemperature(T);
  const out = new Float32Array(probs.length);
  const logits = new Float64Array(C);
  for (let i = 0; i < probs.length; i += C) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) {
      logits[c] = Math.log(Math.max(probs[i + c], LOG_PROB_FLOOR)) / T;
      if (logits[c] > max) max = logits[c];
    }
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(logits[c] - max);
    for (let c = 0; c < C; c++) out[i + c] = Math.exp(logits[c] - max) / sum;
  }
  return out;
}

export interface TemperatureFit {
  temperature: number;
  /** Mean NLL (nats) on the fitting data before and after. */
  nllBefore: number;
  nllAfter: number;
  /** The optimum lies at (or beyond) an end of the search range. */
  atBound: boolean;
}

/**
 * Mean NLL at β = 1/T, and its first two derivatives in β:
 * NLL(β) = mean[−β ℓ_y + log Σ_c e^{β ℓ_c}], ℓ = log p̄;  NLL' = mean[E_q ℓ − ℓ_y];  NLL'' = mean[Var_q ℓ] ≥ 0.
 */
function nllInBeta(logp: Float64Array, C: number, labels: ClassLabels, beta: number): { f: number; g: number; h: number } {
  const n = labels.length;
  let f = 0;
  let g = 0;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const o = i * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, beta * logp[o + c]);
    let z = 0;
    let m1 = 0;
    let m2 = 0;
    for (let c = 0; c < C; c++) {
      const w = Math.exp(beta * logp[o + c] - max);
      z += w;
      m1 += w * logp[o + c];
      m2 += w * logp[o + c] * logp[o + c];
    }
    m1 /= z;
    m2 /= z;
    const y = labels[i];
    f += -beta * logp[o + y] + max + Math.log(z);
    g += m1 - logp[o + y];
    h += Math.max(m2 - m1 * m1, 0);
  }
  return { f: f / n, g: g / n, h: h / n };
}

/**
 * The temperature minimising the mean NLL of softmax(log p̄ / T) on (probs, labels),
 * searched in `range` (default [0.01, 100]).
 */
export function fitTemperature(
  probs: Float32Array,
  C: number,
  labels: ClassLabels,
  range: readonly [number, number] = DEFAULT_TEMPERATURE_RANGE,
): TemperatureFit {
  const n = labels.length;
  if (n === 0) throw new PushInputError('labels is empty: expected at least one validation example');
  checkProbs(probs, C, n);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= C) {
      throw new PushInputError(`labels[${i}] = ${describeValue(labels[i])}: expected a class index in [0, ${C})`);
    }
  }
  if (!(range[0] > 0 && range[1] > range[0])) throw new PushInputError(`temperature range ${describeValue(range)}: expected 0 < min < max`);
  const logp = Float64Array.from(probs, (p) => Math.log(Math.max(p, LOG_PROB_FLOOR)));
  let lo = 1 / range[1];
  let hi = 1 / range[0];
  const nllBefore = nllInBeta(logp, C, labels, 1).f;
  let beta: number;
  let atBound = false;
  if (nllInBeta(logp, C, labels, hi).g <= 0) {
    beta = hi;
    atBound = true;
  } else if (nllInBeta(logp, C, labels, lo).g >= 0) {
    beta = lo;
    atBound = true;
  } else {
    // Safeguarded Newton: keep a bracket [lo, hi] with NLL'(lo) < 0 < NLL'(hi).
    beta = 1;
    for (let iter = 0; iter < 100; iter++) {
      const { g, h } = nllInBeta(logp, C, labels, beta);
      if (g < 0) lo = beta;
      else hi = beta;
      let next = h > 0 ? beta - g / h : NaN;
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      if (Math.abs(next - beta) <= 1e-12 * beta || hi - lo <= 1e-12 * hi) {
        beta = next;
        break;
      }
      beta = next;
    }
  }
  return { temperature: 1 / beta, nllBefore, nllAfter: nllInBeta(logp, C, labels, beta).f, atBound };
}

/** ECE, NLL, Brier and accuracy of p̄ and of softmax(log p̄ / T) on one data set. */
export function temperatureReport(
  probs: Float32Array,
  C: number,
  labels: ClassLabels,
  T: number,
  bins?: number,
): { temperature: number; before: ClassificationMetrics; after: ClassificationMetrics } {
  return {
    temperature: T,
    before: classificationMetrics({ probs, C, labels, bins }),
    after: classificationMetrics({ probs: applyTemperature(probs, C, T), C, labels, bins }),
  };
}

// ---------------------------------------------------------------------------
// Regression.

export const DEFAULT_INTERVAL_LEVELS: readonly number[] = [0.5, 0.9, 0.95];
/** Levels 0.01, 0.02, ..., 0.99 for the quantile calibration error and the coverage curve. */
export const DEFAULT_CALIBRATION_LEVELS: readonly number[] = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);

function checkRegression(mean: Float32Array, variance: Float32Array, y: Float32Array): void {
  if (y.length === 0) throw new PushInputError('y is empty: expected at least one target');
  if (mean.length !== y.length) throw new PushInputError(`mean has length ${mean.length}: expected ${y.length}, one per target`);
  if (variance.length !== y.length) throw new PushInputError(`variance has length ${variance.length}: expected ${y.length}, one per target`);
  for (let i = 0; i < variance.length; i++) {
    if (!(variance[i] > 0) || !Number.isFinite(variance[i])) throw new PushInputError(`variance[${i}] = ${describeValue(variance[i])}: expected a finite number > 0`);
  }
}

function checkLevel(p: number): void {
  if (!(p > 0 && p < 1)) throw new PushInputError(`level ${describeValue(p)}: expected a number in (0, 1)`);
}

/** The scale s minimising the mean NLL of N(μ, s σ²): mean((y − μ)² / σ²). */
export function fitVarianceScale(mean: Float32Array, variance: Float32Array, y: Float32Array): number {
  checkRegression(mean, variance, y);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (y[i] - mean[i]) ** 2 / variance[i];
  const scale = s / y.length;
  if (!(scale > 0)) throw new PushInputError('every target equals its predicted mean: expected some residual to fit a variance scale');
  return scale;
}

export function scaleVariance(variance: Float32Array, scale: number): Float32Array {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new PushInputError(`variance scale ${describeValue(scale)}: expected a finite number > 0`);
  return Float32Array.from(variance, (v) => v * scale);
}

export interface IntervalStats {
  /** Nominal coverage of the central interval μ ± z σ. */
  level: number;
  /** Prediction interval coverage probability: the fraction of targets inside. */
  picp: number;
  /** Mean width 2 z σ, in the targets' units. */
  meanWidth: number;
}

/** PICP and mean width of central intervals at each level (default 50, 90, 95%). */
export function intervalStats(
  mean: Float32Array,
  variance: Float32Array,
  y: Float32Array,
  levels: readonly number[] = DEFAULT_INTERVAL_LEVELS,
): IntervalStats[] {
  checkRegression(mean, variance, y);
  return levels.map((level) => {
    checkLevel(level);
    const z = normalQuantile((1 + level) / 2);
    let inside = 0;
    let width = 0;
    for (let i = 0; i < y.length; i++) {
      const sd = Math.sqrt(variance[i]);
      if (Math.abs(y[i] - mean[i]) <= z * sd) inside++;
      width += 2 * z * sd;
    }
    return { level, picp: inside / y.length, meanWidth: width / y.length };
  });
}

/** PIT values u_i = Φ((y_i − μ_i) / σ_i), sorted ascending. */
function sortedPit(mean: Float32Array, variance: Float32Array, y: Float32Array): Float64Array {
  const u = Float64Array.from(y, (v, i) => normalCdf((v - mean[i]) / Math.sqrt(variance[i])));
  return u.sort();
}

/** Number of sorted values ≤ x. */
function countAtMost(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Quantile calibration error (after Kuleshov et al. 2018): the mean over levels p of
 * |observed(p) − p|, observed(p) = the fraction of targets at or below the predicted
 * p-quantile μ + σ Φ⁻¹(p), i.e. with PIT value Φ((y − μ)/σ) ≤ p. 0 is perfect.
 */
export function quantileCalibrationError(
  mean: Float32Array,
  variance: Float32Array,
  y: Float32Array,
  levels: readonly number[] = DEFAULT_CALIBRATION_LEVELS,
): number {
  checkRegression(mean, variance, y);
  if (levels.length === 0) throw new PushInputError('levels is empty: expected at least one level');
  const pit = sortedPit(mean, variance, y);
  let sum = 0;
  for (const p of levels) {
    checkLevel(p);
    sum += Math.abs(countAtMost(pit, p) / y.length - p);
  }
  return sum / levels.length;
}

/**
 * Data for a regression calibration plot: for each expected coverage p, the observed
 * fraction of targets inside the central interval μ ± Φ⁻¹((1+p)/2) σ (|2u − 1| ≤ p for PIT u).
 */
export function coverageCurve(
  mean: Float32Array,
  variance: Float32Array,
  y: Float32Array,
  levels: readonly number[] = DEFAULT_CALIBRATION_LEVELS,
): { expected: number[]; observed: number[] } {
  checkRegression(mean, variance, y);
  const dist = Float64Array.from(sortedPit(mean, variance, y), (u) => Math.abs(2 * u - 1)).sort();
  return {
    expected: [...levels],
    observed: levels.map((p) => {
      checkLevel(p);
      return countAtMost(dist, p) / y.length;
    }),
  };
}

export interface RegressionCalibrationStats {
  /** Mean Gaussian NLL (nats, with the 0.5 log 2π constant). */
  nll: number;
  intervals: IntervalStats[];
  quantileCalibrationError: number;
}

export function regressionCalibrationStats(mean: Float32Array, variance: Float32Array, y: Float32Array): RegressionCalibrationStats {
  return {
    nll: gaussianNll(mean, variance, y),
    intervals: intervalStats(mean, variance, y),
    quantileCalibrationError: quantileCalibrationError(mean, variance, y),
  };
}

/** The stats of N(μ, σ²) and of N(μ, s σ²) on one data set. */
export function varianceScaleReport(
  mean: Float32Array,
  variance: Float32Array,
  y: Float32Array,
  scale: number,
): { scale: number; before: RegressionCalibrationStats; after: RegressionCalibrationStats } {
  return {
    scale,
    before: regressionCalibrationStats(mean, variance, y),
    after: regressionCalibrationStats(mean, scaleVariance(variance, scale), y),
  };
}
