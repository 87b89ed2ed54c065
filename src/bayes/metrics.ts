// Predictive metrics on plain typed arrays (no tfjs), so they run in the
// coordinator and in device workers alike. Sums are accumulated in float64.
//
// Metric keys are exactly: rmse, nll, accuracy, ece, brier.

import { PushInputError, describeValue } from '../util/errors';

export const METRIC_KEYS = ['rmse', 'nll', 'accuracy', 'ece', 'brier'] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

export interface RegressionMetrics {
  rmse: number;
  /** Present only when a predictive variance was given. */
  nll?: number;
}

export interface ClassificationMetrics {
  accuracy: number;
  nll: number;
  ece: number;
  brier: number;
}

/** Class indices, one per example (integers in [0, C), stored in any numeric array). */
export type ClassLabels = ArrayLike<number>;

/** One equal-width bin of a reliability diagram: examples with lo < confidence <= hi. */
export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Fraction of the bin's examples whose top class is right; NaN when the bin is empty. */
  accuracy: number;
  /** Mean top-label confidence in the bin; NaN when the bin is empty. */
  confidence: number;
}

export const DEFAULT_ECE_BINS = 15;
/** Probabilities are floored here before the log, so a confident mistake costs ~27.6 nats, not Infinity. */
export const NLL_PROB_FLOOR = 1e-12;

const LOG_2PI = Math.log(2 * Math.PI);

// ---------------------------------------------------------------------------
// Input checks (exported for the other bayes modules; not part of the public API).

/** @internal */
export function requirePositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new PushInputError(`${name} = ${describeValue(v)}: expected a positive integer`);
  }
}

/** @internal */
export function requireLength(name: string, arr: ArrayLike<number>, expected: number, what: string): void {
  if (arr.length !== expected) {
    throw new PushInputError(`${name} has length ${arr.length}: expected ${expected} (${what})`);
  }
}

/** @internal Labels must be integers in [0, numClasses). */
export function checkLabels(labels: ClassLabels, numClasses: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= numClasses) {
      throw new PushInputError(
        `labels[${i}] = ${describeValue(l)}: expected a class index, an integer in [0, ${numClasses})`,
      );
    }
  }
}

function checkProbsAndLabels(probs: Float32Array, numClasses: number, labels: ClassLabels): number {
  requirePositiveInt('numClasses', numClasses);
  const n = labels.length;
  if (n === 0) throw new PushInputError('labels is empty: expected at least one example');
  requireLength('probs', probs, n * numClasses, `[N = ${n}, C = ${numClasses}]`);
  checkLabels(labels, numClasses);
  return n;
}

function requireBins(bins: number): void {
  requirePositiveInt('bins', bins);
}

/** Index of the largest of row[offset .. offset+count); ties go to the smallest index. */
export function argmaxRow(row: ArrayLike<number>, offset: number, count: number): number {
  let best = 0;
  let bestValue = row[offset];
  for (let c = 1; c < count; c++) {
    const v = row[offset + c];
    if (v > bestValue) {
      bestValue = v;
      best = c;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// Regression.

/** Root mean squared error: sqrt(mean((pred - y)^2)) over all elements. */
export function rmse(pred: Float32Array, y: Float32Array): number {
  if (y.length === 0) throw new PushInputError('y is empty: expected at least one element');
  requireLength('pred', pred, y.length, 'one prediction per target element');
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const e = pred[i] - y[i];
    sum += e * e;
  }
  return Math.sqrt(sum / y.length);
}

/**
 * Gaussian negative log-likelihood with the full constant, averaged over elements:
 *   mean_i [ 0.5 * log(2π var_i) + (y_i − mean_i)² / (2 var_i) ]   (nats).
 * Because the 0.5·log(2π) ≈ 0.919 constant is included, values are comparable
 * with published NLLs (e.g. the UCI regression benchmarks), not only with each other.
 */
export function gaussianNll(mean: Float32Array, variance: Float32Array, y: Float32Array): number {
  if (y.length === 0) throw new PushInputError('y is empty: expected at least one element');
  requireLength('mean', mean, y.length, 'one mean per target element');
  requireLength('variance', variance, y.length, 'one variance per target element');
  return gaussianNllSum(mean, variance, y, 0) / y.length;
}

/** start + Σ_i nll_i, added one element at a time (so streamed and one-shot sums agree bit for bit). */
function gaussianNllSum(mean: Float32Array, variance: Float32Array, y: Float32Array, start: number): number {
  let sum = start;
  for (let i = 0; i < y.length; i++) {
    const v = variance[i];
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new PushInputError(`variance[${i}] = ${describeValue(v)}: expected a finite number > 0`);
    }
    const e = y[i] - mean[i];
    sum += 0.5 * (LOG_2PI + Math.log(v)) + (e * e) / (2 * v);
  }
  return sum;
}

export function regressionMetrics(args: { mean: Float32Array; variance?: Float32Array; y: Float32Array }): RegressionMetrics {
  const acc = new RegressionMetricsAccumulator(args.variance !== undefined);
  acc.add(args.mean, args.y, args.variance);
  return acc.result();
}

/** Streaming regression metrics: add batches, read the metrics of everything added. */
export class RegressionMetricsAccumulator {
  private count = 0;
  private sumSquaredError = 0;
  private sumNll = 0;

  /** `withVariance`: every batch carries a predictive variance, and `nll` is reported. */
  constructor(readonly withVariance: boolean) {}

  add(mean: Float32Array, y: Float32Array, variance?: Float32Array): void {
    requireLength('mean', mean, y.length, 'one prediction per target element');
    if (this.withVariance) {
      if (variance === undefined) throw new PushInputError('variance is missing: expected one per target element');
      requireLength('variance', variance, y.length, 'one variance per target element');
      this.sumNll = gaussianNllSum(mean, variance, y, this.sumNll);
    }
    for (let i = 0; i < y.length; i++) {
      const e = mean[i] - y[i];
      this.sumSquaredError += e * e;
    }
    this.count += y.length;
  }

  result(): RegressionMetrics {
    if (this.count === 0) throw new PushInputError('no targets were added: expected at least one element');
    const out: RegressionMetrics = { rmse: Math.sqrt(this.sumSquaredError / this.count) };
    if (this.withVariance) out.nll = this.sumNll / this.count;
    return out;
  }
}

// ---------------------------------------------------------------------------
// Classification. `probs` is [N, C] row-major; labels are class indices.

/** Fraction of examples whose arg-max class (ties → smallest index) equals the label. */
export function accuracy(probs: Float32Array, numClasses: number, labels: ClassLabels): number {
  const n = checkProbsAndLabels(probs, numClasses, labels);
  let correct = 0;
  for (let i = 0; i < n; i++) if (argmaxRow(probs, i * numClasses, numClasses) === labels[i]) correct++;
  return correct / n;
}

/** Mean of −log(max(p_label, 1e-12)) (nats). */
export function classificationNll(probs: Float32Array, numClasses: number, labels: ClassLabels): number {
  const n = checkProbsAndLabels(probs, numClasses, labels);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += -Math.log(Math.max(probs[i * numClasses + labels[i]], NLL_PROB_FLOOR));
  return sum / n;
}

/**
 * Multi-class Brier score (Brier 1950): mean over examples of Σ_c (p_c − onehot_c)².
 * Ranges over [0, 2]; it is NOT divided by C (some libraries do, or score only the true class).
 */
export function brier(probs: Float32Array, numClasses: number, labels: ClassLabels): number {
  const n = checkProbsAndLabels(probs, numClasses, labels);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += brierRow(probs, i * numClasses, numClasses, labels[i]);
  return sum / n;
}

function brierRow(probs: Float32Array, offset: number, numClasses: number, label: number): number {
  let s = 0;
  for (let c = 0; c < numClasses; c++) {
    const e = probs[offset + c] - (c === label ? 1 : 0);
    s += e * e;
  }
  return s;
}

/**
 * Bin of a top-label confidence among `bins` equal-width bins over [0, 1]:
 * bin i holds (i/bins, (i+1)/bins]; a confidence of 0 goes in bin 0 and 1 in the last bin.
 */
export function confidenceBin(confidence: number, bins: number): number {
  if (!(confidence > 0)) return 0;
  if (confidence >= 1) return bins - 1;
  let i = Math.ceil(confidence * bins) - 1;
  // confidence * bins can round across an edge: restore i/bins < confidence <= (i+1)/bins.
  if (i > 0 && confidence <= i / bins) i--;
  else if (i < bins - 1 && confidence > (i + 1) / bins) i++;
  return Math.min(Math.max(i, 0), bins - 1);
}

/**
 * Reliability diagram from per-example top-label confidences and correctness (1 = right, 0 = wrong).
 * Empty bins have count 0 and NaN accuracy/confidence (nothing to plot).
 */
export function reliabilityBinsFromConfidences(
  confidence: ArrayLike<number>,
  correct: ArrayLike<number>,
  bins = DEFAULT_ECE_BINS,
): ReliabilityBin[] {
  requireBins(bins);
  requireLength('correct', correct, confidence.length, 'one flag per confidence');
  const count = new Float64Array(bins);
  const sumCorrect = new Float64Array(bins);
  const sumConf = new Float64Array(bins);
  for (let i = 0; i < confidence.length; i++) {
    const b = confidenceBin(confidence[i], bins);
    count[b]++;
    sumCorrect[b] += correct[i];
    sumConf[b] += confidence[i];
  }
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b];
    out.push({
      lo: b / bins,
      hi: (b + 1) / bins,
      count: c,
      accuracy: c > 0 ? sumCorrect[b] / c : NaN,
      confidence: c > 0 ? sumConf[b] / c : NaN,
    });
  }
  return out;
}

/**
 * Expected calibration error (Guo et al. 2017): Σ_b (|b| / N) · |acc(b) − conf(b)|
 * over equal-width bins of top-label confidence (see confidenceBin).
 */
export function eceFromConfidences(
  confidence: ArrayLike<number>,
  correct: ArrayLike<number>,
  bins = DEFAULT_ECE_BINS,
): number {
  const n = confidence.length;
  if (n === 0) throw new PushInputError('no confidences: expected at least one example');
  let sum = 0;
  for (const b of reliabilityBinsFromConfidences(confidence, correct, bins)) {
    if (b.count > 0) sum += (b.count / n) * Math.abs(b.accuracy - b.confidence);
  }
  return sum;
}

function confidencesOf(probs: Float32Array, numClasses: number, labels: ClassLabels) {
  const n = labels.length;
  const confidence = new Float64Array(n);
  const correct = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const top = argmaxRow(probs, i * numClasses, numClasses);
    confidence[i] = probs[i * numClasses + top];
    correct[i] = top === labels[i] ? 1 : 0;
  }
  return { confidence, correct };
}

/** ECE with `bins` equal-width bins (default 15) on top-label confidence; see eceFromConfidences. */
export function ece(probs: Float32Array, numClasses: number, labels: ClassLabels, bins = DEFAULT_ECE_BINS): number {
  checkProbsAndLabels(probs, numClasses, labels);
  requireBins(bins);
  const { confidence, correct } = confidencesOf(probs, numClasses, labels);
  return eceFromConfidences(confidence, correct, bins);
}

/** Per-bin {lo, hi, count, accuracy, confidence} for a reliability diagram. */
export function reliabilityBins(
  probs: Float32Array,
  numClasses: number,
  labels: ClassLabels,
  bins = DEFAULT_ECE_BINS,
): ReliabilityBin[] {
  checkProbsAndLabels(probs, numClasses, labels);
  requireBins(bins);
  const { confidence, correct } = confidencesOf(probs, numClasses, labels);
  return reliabilityBinsFromConfidences(confidence, correct, bins);
}

export function classificationMetrics(args: {
  probs: Float32Array;
  C: number;
  labels: ClassLabels;
  bins?: number;
}): ClassificationMetrics {
  const acc = new ClassificationMetricsAccumulator(args.C, args.bins);
  acc.add(args.probs, args.labels);
  return acc.result();
}

/** A Float32Array / Uint8Array that grows by doubling. */
class GrowableArray<T extends Float32Array | Uint8Array> {
  private length = 0;
  constructor(
    private data: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(Math.max(16, this.data.length * 2));
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

/**
 * Streaming classification metrics. Accuracy, NLL and Brier are running float64 sums;
 * ECE needs every confidence, so each example keeps its top-label confidence (float32,
 * exactly the value read from the float32 probs) and a correct flag: 5 bytes per example.
 */
export class ClassificationMetricsAccumulator {
  private count = 0;
  private sumCorrect = 0;
  private sumNll = 0;
  private sumBrier = 0;
  private readonly confidences = new GrowableArray(new Float32Array(0), (n) => new Float32Array(n));
  private readonly correct = new GrowableArray(new Uint8Array(0), (n) => new Uint8Array(n));

  constructor(
    readonly numClasses: number,
    readonly bins = DEFAULT_ECE_BINS,
  ) {
    requirePositiveInt('numClasses', numClasses);
    requireBins(bins);
  }

  add(probs: Float32Array, labels: ClassLabels): void {
    const C = this.numClasses;
    requireLength('probs', probs, labels.length * C, `[N = ${labels.length}, C = ${C}]`);
    checkLabels(labels, C);
    for (let i = 0; i < labels.length; i++) {
      const offset = i * C;
      const label = labels[i];
      const top = argmaxRow(probs, offset, C);
      const right = top === label ? 1 : 0;
      this.sumCorrect += right;
      this.sumNll += -Math.log(Math.max(probs[offset + label], NLL_PROB_FLOOR));
      this.sumBrier += brierRow(probs, offset, C, label);
      this.confidences.push(probs[offset + top]);
      this.correct.push(right);
    }
    this.count += labels.length;
  }

  reliabilityBins(): ReliabilityBin[] {
    return reliabilityBinsFromConfidences(this.confidences.view(), this.correct.view(), this.bins);
  }

  result(): ClassificationMetrics {
    if (this.count === 0) throw new PushInputError('no labels were added: expected at least one example');
    return {
      accuracy: this.sumCorrect / this.count,
      nll: this.sumNll / this.count,
      ece: eceFromConfidences(this.confidences.view(), this.correct.view(), this.bins),
      brier: this.sumBrier / this.count,
    };
  }
}
