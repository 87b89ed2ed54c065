// The posterior predictive (Bayesian model average) reduced from per-particle
// predictions. Inputs are stacks [N, S, out] row-major: N examples, S members
// (particles, or particles × weight samples), `out` outputs per member.
//
// Conventions:
// - The BMA is an equal-weight mixture of the S members, so every spread
//   ("std", "epistemic") is the POPULATION statistic over members (divide by S).
// - "median" over an even number of members is the mean of the two middle values (NumPy).
// - Arg-max ties (per member, and in the majority vote) go to the smallest class index.
// - Entropies are in nats.

import { PushInputError, describeValue } from '../util/errors';
import type { Task } from '../data/dataset';
import {
  ClassLabels,
  ClassificationMetrics,
  ClassificationMetricsAccumulator,
  DEFAULT_ECE_BINS,
  RegressionMetrics,
  RegressionMetricsAccumulator,
  argmaxRow,
  checkLabels,
  requireLength,
  requirePositiveInt,
} from './metrics';

/** @deprecated The one task type is data's `Task`; this alias stays for existing imports. */
export type PredictiveTask = Task;

/** Reductions of a plain regression stack (each member outputs `out` values); `pred` is the [N, S, out] stack. */
export const REGRESSION_MODES = ['mean', 'median', 'min', 'max', 'std', 'pred'] as const;
/**
 * Reductions of a gaussian-nll regression stack (each member outputs [2d]: d means, then
 * d raw variances, variance = softplus(raw) + 1e-6). `mean` is the mixture mean, `variance`
 * the total (aleatoric_var + epistemic_var), `aleatoric_var` the mean of member variances,
 * `epistemic_var` the variance of member means, `std` = sqrt(total variance) (NOT the spread of the means);
 * median/min/max are over member means; `pred` is the raw [N, S, 2d] stack.
 */
export const GAUSSIAN_REGRESSION_MODES = [
  'mean',
  'variance',
  'aleatoric_var',
  'epistemic_var',
  'std',
  'median',
  'min',
  'max',
  'pred',
] as const;
/**
 * Reductions of a logits stack [N, S, C]: `logits` (the stack), `prob` (softmax per member,
 * [N, S, C]), `mean_prob` (the BMA, [N, C]), `mode` (majority vote of member arg-maxes, [N]),
 * `std` (of member probabilities, [N, C]), `entropy` (H[mean_prob]), `expected_entropy`
 * (mean_s H[p_s]) and `mutual_info` (their difference, the epistemic part), each [N].
 */
export const CLASSIFICATION_MODES = [
  'logits',
  'prob',
  'mean_prob',
  'mode',
  'std',
  'entropy',
  'expected_entropy',
  'mutual_info',
] as const;

export type RegressionMode = (typeof REGRESSION_MODES)[number];
export type GaussianRegressionMode = (typeof GAUSSIAN_REGRESSION_MODES)[number];
export type ClassificationMode = (typeof CLASSIFICATION_MODES)[number];
export type PredictionMode = RegressionMode | GaussianRegressionMode | ClassificationMode;

export interface StackDims {
  /** Examples in this stack. */
  N: number;
  /** Members: particles, or particles × weight samples. */
  S: number;
  /** Outputs per member (C for classification, 2d for gaussian regression). */
  out: number;
}

export interface ReducedPrediction {
  data: Float32Array;
  shape: number[];
}

export interface PredictiveOptions {
  /** Regression members output [mean(d), raw variance(d)] (gaussian-nll models). */
  gaussian?: boolean;
  /** ECE bins for classification metrics (default 15). */
  bins?: number;
  /** Also accumulate one metrics object per member (PredictiveReducer.memberMetrics()). */
  trackMembers?: boolean;
  /**
   * Gaussian members: the floor added to softplus(raw), per target column (default 1e-6, the
   * model's). A stack mapped to original units carries floor x std^2 (see stacks.ts), so a
   * variance below 1e-6 in original units is kept, not floored.
   */
  varianceFloor?: readonly number[];
}

export type MetricsFor<T extends Task> = T extends 'regression' ? RegressionMetrics : ClassificationMetrics;
/** Targets per task: regression y is [N, d] (d = out, or out/2 when gaussian); classification y is N class indices. */
export type TargetsFor<T extends Task> = T extends 'regression' ? Float32Array : ClassLabels;

/** Added to softplus(raw) so a member's variance is never 0. */
export const VARIANCE_FLOOR = 1e-6;

function softplus(x: number): number {
  // log(1 + e^x) without overflow for large x or loss of precision for very negative x.
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Variance from a gaussian-nll head's raw output: softplus(raw) + 1e-6. */
export function softplusVariance(raw: number): number;
export function softplusVariance(raw: Float32Array): Float32Array;
export function softplusVariance(raw: number | Float32Array): number | Float32Array {
  if (typeof raw === 'number') return softplus(raw) + VARIANCE_FLOOR;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = softplus(raw[i]) + VARIANCE_FLOOR;
  return out;
}

/** Modes renamed because they are variances, next to a `std` mode: old name -> new name. */
export const RENAMED_MODES: Readonly<Record<string, string>> = { aleatoric: 'aleatoric_var', epistemic: 'epistemic_var' };

/** The one-line error for a mode under its old name, or undefined. */
export function renamedModeError(name: string, where = 'prediction mode'): PushInputError | undefined {
  if (!Object.prototype.hasOwnProperty.call(RENAMED_MODES, name)) return undefined;
  return new PushInputError(`${where} "${name}" is now "${RENAMED_MODES[name]}" (it is a variance, not a std): expected ${RENAMED_MODES[name]}`);
}

/** The modes accepted for a task. */
export function validModes(task: Task, opts: { gaussian?: boolean } = {}): readonly PredictionMode[] {
  if (task === 'classification') return CLASSIFICATION_MODES;
  if (task === 'regression') return opts.gaussian ? GAUSSIAN_REGRESSION_MODES : REGRESSION_MODES;
  throw new PushInputError(`task = ${describeValue(task)}: expected "regression" or "classification"`);
}

function checkModes(task: Task, modes: readonly string[], gaussian: boolean): void {
  if (!Array.isArray(modes)) {
    throw new PushInputError(`modes = ${describeValue(modes)}: expected an array of mode names`);
  }
  const valid: readonly string[] = validModes(task, { gaussian });
  for (const m of modes) {
    const renamed = renamedModeError(m);
    if (renamed) throw renamed;
    if (!valid.includes(m)) {
      const kind = task === 'regression' && gaussian ? 'gaussian regression' : task;
      throw new PushInputError(
        `prediction mode ${describeValue(m)} is not valid for ${kind}: expected one of ${valid.join(', ')}`,
      );
    }
  }
}

function checkDims(pred: Float32Array, dims: StackDims, gaussian: boolean): void {
  if (dims === null || typeof dims !== 'object') {
    throw new PushInputError(`dims = ${describeValue(dims)}: expected {N, S, out}`);
  }
  if (!Number.isInteger(dims.N) || dims.N < 0) {
    throw new PushInputError(`N = ${describeValue(dims.N)}: expected a non-negative integer`);
  }
  requirePositiveInt('S', dims.S);
  requirePositiveInt('out', dims.out);
  if (gaussian && dims.out % 2 !== 0) {
    throw new PushInputError(`out = ${dims.out}: expected an even number (d means, then d raw variances)`);
  }
  requireLength('pred', pred, dims.N * dims.S * dims.out, `[N = ${dims.N}, S = ${dims.S}, out = ${dims.out}]`);
}

// ---------------------------------------------------------------------------
// Per-batch reductions. Each returns only the arrays asked for in `need`.

type BatchOutputs = Partial<Record<string, Float32Array>>;

function reduceRegressionBatch(pred: Float32Array, N: number, S: number, out: number, need: Set<string>): BatchOutputs {
  const r: BatchOutputs = {};
  const mean = need.has('mean') ? (r.mean = new Float32Array(N * out)) : null;
  const std = need.has('std') ? (r.std = new Float32Array(N * out)) : null;
  const median = need.has('median') ? (r.median = new Float32Array(N * out)) : null;
  const min = need.has('min') ? (r.min = new Float32Array(N * out)) : null;
  const max = need.has('max') ? (r.max = new Float32Array(N * out)) : null;
  const sorted = new Float64Array(S);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < out; o++) {
      const base = n * S * out + o;
      let sum = 0;
      for (let s = 0; s < S; s++) sum += pred[base + s * out];
      const m = sum / S;
      const k = n * out + o;
      if (mean) mean[k] = m;
      if (std) {
        // Two-pass population variance: exact for members that agree.
        let ss = 0;
        for (let s = 0; s < S; s++) {
          const e = pred[base + s * out] - m;
          ss += e * e;
        }
        std[k] = Math.sqrt(ss / S);
      }
      if (median || min || max) {
        for (let s = 0; s < S; s++) sorted[s] = pred[base + s * out];
        sorted.sort();
        if (min) min[k] = sorted[0];
        if (max) max[k] = sorted[S - 1];
        if (median) median[k] = S % 2 === 1 ? sorted[(S - 1) / 2] : 0.5 * (sorted[S / 2 - 1] + sorted[S / 2]);
      }
    }
  }
  return r;
}

/**
 * Gaussian members (mean μ_s, variance σ²_s = softplus(raw_s) + 1e-6). The mixture of
 * S equal-weight Gaussians has mean μ̄ = mean_s μ_s and, by the law of total variance,
 *   variance = aleatoric_var + epistemic_var,  aleatoric_var = mean_s σ²_s,  epistemic_var = mean_s (μ_s − μ̄)².
 */
function reduceGaussianBatch(pred: Float32Array, N: number, S: number, out: number, need: Set<string>, floor?: readonly number[]): BatchOutputs {
  const d = out / 2;
  const r: BatchOutputs = {};
  const alloc = (name: string) => (need.has(name) ? (r[name] = new Float32Array(N * d)) : null);
  const mean = alloc('mean');
  const variance = alloc('variance');
  const aleatoric = alloc('aleatoric_var');
  const epistemic = alloc('epistemic_var');
  const std = alloc('std');
  const wantSpread = variance || aleatoric || epistemic || std;
  const orderNeed = new Set(['median', 'min', 'max'].filter((m) => need.has(m)));
  if (orderNeed.size > 0) Object.assign(r, reduceRegressionBatch(memberMeans(pred, N, S, out), N, S, d, orderNeed));
  if (!mean && !wantSpread) return r;
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < d; j++) {
      const base = n * S * out + j;
      let sumMean = 0;
      let sumVar = 0;
      for (let s = 0; s < S; s++) {
        sumMean += pred[base + s * out];
        if (wantSpread) sumVar += softplus(pred[base + s * out + d]) + (floor ? floor[j] : VARIANCE_FLOOR);
      }
      const m = sumMean / S;
      const k = n * d + j;
      if (mean) mean[k] = m;
      if (!wantSpread) continue;
      let ss = 0;
      for (let s = 0; s < S; s++) {
        const e = pred[base + s * out] - m;
        ss += e * e;
      }
      const ale = sumVar / S;
      const epi = ss / S;
      if (aleatoric) aleatoric[k] = ale;
      if (epistemic) epistemic[k] = epi;
      if (variance) variance[k] = ale + epi;
      if (std) std[k] = Math.sqrt(ale + epi);
    }
  }
  return r;
}

/** The [N, S, d] member means of a gaussian stack [N, S, 2d]. */
function memberMeans(pred: Float32Array, N: number, S: number, out: number): Float32Array {
  const d = out / 2;
  const means = new Float32Array(N * S * d);
  for (let row = 0; row < N * S; row++) means.set(pred.subarray(row * out, row * out + d), row * d);
  return means;
}

/** Softmax of logits[offset .. offset+C) into probs/logProbs[0 .. C), in float64 (max-shifted). */
function softmaxRow(logits: Float32Array, offset: number, C: number, probs: Float64Array, logProbs: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < C; c++) if (logits[offset + c] > max) max = logits[offset + c];
  let sum = 0;
  for (let c = 0; c < C; c++) sum += Math.exp(logits[offset + c] - max);
  const logSum = Math.log(sum);
  for (let c = 0; c < C; c++) {
    logProbs[c] = logits[offset + c] - max - logSum;
    probs[c] = Math.exp(logProbs[c]);
  }
}

/** −Σ p log p with 0·log 0 = 0 (nats). */
function entropyOf(probs: Float64Array, logProbs: Float64Array | null, C: number): number {
  let h = 0;
  for (let c = 0; c < C; c++) {
    const p = probs[c];
    if (p > 0) h -= p * (logProbs ? logProbs[c] : Math.log(p));
  }
  return h;
}

function reduceClassificationBatch(
  logits: Float32Array,
  N: number,
  S: number,
  C: number,
  need: Set<string>,
): BatchOutputs {
  const r: BatchOutputs = {};
  const prob = need.has('prob') ? (r.prob = new Float32Array(N * S * C)) : null;
  const meanProb = need.has('mean_prob') ? (r.mean_prob = new Float32Array(N * C)) : null;
  const std = need.has('std') ? (r.std = new Float32Array(N * C)) : null;
  const mode = need.has('mode') ? (r.mode = new Float32Array(N)) : null;
  const entropy = need.has('entropy') ? (r.entropy = new Float32Array(N)) : null;
  const expectedEntropy = need.has('expected_entropy') ? (r.expected_entropy = new Float32Array(N)) : null;
  const mutualInfo = need.has('mutual_info') ? (r.mutual_info = new Float32Array(N)) : null;
  const wantMemberEntropy = !!(expectedEntropy || mutualInfo);

  const p = new Float64Array(S * C); // member probabilities of one example
  const rowProbs = new Float64Array(C);
  const rowLogProbs = new Float64Array(C);
  const avg = new Float64Array(C);
  const votes = new Int32Array(C);
  for (let n = 0; n < N; n++) {
    avg.fill(0);
    votes.fill(0);
    let sumMemberEntropy = 0;
    for (let s = 0; s < S; s++) {
      const offset = (n * S + s) * C;
      softmaxRow(logits, offset, C, rowProbs, rowLogProbs);
      p.set(rowProbs, s * C);
      for (let c = 0; c < C; c++) avg[c] += rowProbs[c];
      if (wantMemberEntropy) sumMemberEntropy += entropyOf(rowProbs, rowLogProbs, C);
      if (mode) votes[argmaxRow(logits, offset, C)]++;
      if (prob) for (let c = 0; c < C; c++) prob[offset + c] = rowProbs[c];
    }
    for (let c = 0; c < C; c++) avg[c] /= S;
    if (meanProb) for (let c = 0; c < C; c++) meanProb[n * C + c] = avg[c];
    if (std) {
      for (let c = 0; c < C; c++) {
        let ss = 0;
        for (let s = 0; s < S; s++) {
          const e = p[s * C + c] - avg[c];
          ss += e * e;
        }
        std[n * C + c] = Math.sqrt(ss / S);
      }
    }
    if (mode) mode[n] = argmaxRow(votes, 0, C);
    if (entropy || mutualInfo) {
      const h = entropyOf(avg, null, C);
      if (entropy) entropy[n] = h;
      // I[y; θ] = H[E p] − E H[p] ≥ 0 by concavity of H; clamp rounding noise.
      if (mutualInfo) mutualInfo[n] = Math.max(h - sumMemberEntropy / S, 0);
    }
    if (expectedEntropy) expectedEntropy[n] = sumMemberEntropy / S;
  }
  return r;
}

function outputShape(task: Task, gaussian: boolean, mode: string, N: number, S: number, out: number): number[] {
  if (mode === 'pred' || mode === 'logits' || mode === 'prob') return [N, S, out];
  if (task === 'regression') return [N, gaussian ? out / 2 : out];
  if (mode === 'mean_prob' || mode === 'std') return [N, out];
  return [N]; // mode, entropy, expected_entropy, mutual_info
}

function concat(chunks: Float32Array[]): Float32Array {
  if (chunks.length === 1) return chunks[0];
  let total = 0;
  for (const c of chunks) total += c.length;
  const outArr = new Float32Array(total);
  let at = 0;
  for (const c of chunks) {
    outArr.set(c, at);
    at += c.length;
  }
  return outArr;
}

// ---------------------------------------------------------------------------

/**
 * Streaming posterior predictive: push stacks [N_b, S, out] batch by batch (S and out fixed),
 * read per-example reductions concatenated over batches with result(). Memory held is the
 * reduced outputs only, plus the full stacks if `pred`/`logits`/`prob` were asked for.
 * Push targets alongside to accumulate metrics of the BMA (metrics()) and, with
 * `trackMembers`, of every member (memberMetrics()).
 *
 * Metrics are computed from the float32 BMA (regression: mixture mean, and for gaussian
 * models the moment-matched N(mixture mean, total variance); classification: mean_prob),
 * so they equal regressionMetrics/classificationMetrics applied to result().
 */
export class PredictiveReducer<T extends Task = Task> {
  readonly modes: readonly string[];
  readonly gaussian: boolean;
  private readonly bins: number;
  private readonly trackMembers: boolean;
  private readonly varianceFloor?: readonly number[];
  private S = 0;
  private out = 0;
  private totalN = 0;
  private withTargets: boolean | null = null;
  private readonly chunks = new Map<string, Float32Array[]>();
  private bmaAcc: RegressionMetricsAccumulator | ClassificationMetricsAccumulator | null = null;
  private memberAccs: Array<RegressionMetricsAccumulator | ClassificationMetricsAccumulator> = [];

  constructor(
    readonly task: T,
    modes: readonly string[],
    opts: PredictiveOptions = {},
  ) {
    validModes(task);
    this.gaussian = task === 'regression' && !!opts.gaussian;
    checkModes(task, modes, this.gaussian);
    this.modes = [...new Set(modes)];
    this.bins = opts.bins ?? DEFAULT_ECE_BINS;
    requirePositiveInt('bins', this.bins);
    this.trackMembers = !!opts.trackMembers;
    this.varianceFloor = opts.varianceFloor;
    for (const m of this.modes) this.chunks.set(m, []);
  }

  push(batchPred: Float32Array, dims: StackDims, y?: TargetsFor<T>): void {
    checkDims(batchPred, dims, this.gaussian);
    const { N, S, out } = dims;
    if (this.totalN > 0 || this.withTargets !== null) {
      if (S !== this.S || out !== this.out) {
        throw new PushInputError(
          `batch has S = ${S}, out = ${out}: expected S = ${this.S}, out = ${this.out} as in the first batch`,
        );
      }
    }
    const hasTargets = y !== undefined;
    if (this.withTargets !== null && this.withTargets !== hasTargets) {
      throw new PushInputError(
        `batch ${hasTargets ? 'has' : 'lacks'} targets: expected every batch to ${this.withTargets ? 'have' : 'lack'} them, as the first did`,
      );
    }
    this.S = S;
    this.out = out;
    this.withTargets = hasTargets;
    if (hasTargets) this.checkTargets(y, N);

    const need = new Set(this.modes);
    if (hasTargets) {
      need.add(this.task === 'classification' ? 'mean_prob' : 'mean');
      if (this.gaussian) need.add('variance');
    }
    const reduced =
      this.task === 'classification'
        ? reduceClassificationBatch(batchPred, N, S, out, need)
        : this.gaussian
          ? reduceGaussianBatch(batchPred, N, S, out, need, this.varianceFloor)
          : reduceRegressionBatch(batchPred, N, S, out, need);
    for (const m of this.modes) {
      // Copy the raw stack: the caller may reuse its buffer for the next batch.
      const data = m === 'pred' || m === 'logits' ? batchPred.slice() : reduced[m];
      this.chunks.get(m)!.push(data!);
    }
    this.totalN += N;
    if (hasTargets) this.accumulateMetrics(batchPred, dims, reduced, y);
  }

  private checkTargets(y: unknown, N: number): void {
    if (this.task === 'classification') {
      const labels = y as ClassLabels;
      requireLength('labels', labels, N, 'one class index per example');
      checkLabels(labels, this.out);
    } else {
      if (!(y instanceof Float32Array)) throw new PushInputError(`y = ${describeValue(y)}: expected a Float32Array [N, d]`);
      const d = this.gaussian ? this.out / 2 : this.out;
      requireLength('y', y, N * d, `[N = ${N}, d = ${d}]`);
    }
  }

  private accumulateMetrics(batchPred: Float32Array, dims: StackDims, reduced: BatchOutputs, y: unknown): void {
    const { N, S, out } = dims;
    if (this.bmaAcc === null) {
      const make = () =>
        this.task === 'classification'
          ? new ClassificationMetricsAccumulator(out, this.bins)
          : new RegressionMetricsAccumulator(this.gaussian);
      this.bmaAcc = make();
      if (this.trackMembers) for (let s = 0; s < S; s++) this.memberAccs.push(make());
    }
    if (this.bmaAcc instanceof ClassificationMetricsAccumulator) {
      const labels = y as ClassLabels;
      this.bmaAcc.add(reduced.mean_prob!, labels);
      if (!this.trackMembers) return;
      const rowProbs = new Float64Array(out);
      const rowLogProbs = new Float64Array(out);
      for (let s = 0; s < S; s++) {
        const probs = new Float32Array(N * out);
        for (let n = 0; n < N; n++) {
          softmaxRow(batchPred, (n * S + s) * out, out, rowProbs, rowLogProbs);
          for (let c = 0; c < out; c++) probs[n * out + c] = rowProbs[c];
        }
        (this.memberAccs[s] as ClassificationMetricsAccumulator).add(probs, labels);
      }
    } else {
      const targets = y as Float32Array;
      this.bmaAcc.add(reduced.mean!, targets, this.gaussian ? reduced.variance : undefined);
      if (!this.trackMembers) return;
      const d = this.gaussian ? out / 2 : out;
      for (let s = 0; s < S; s++) {
        const mean = new Float32Array(N * d);
        const variance = this.gaussian ? new Float32Array(N * d) : undefined;
        for (let n = 0; n < N; n++) {
          const row = (n * S + s) * out;
          for (let j = 0; j < d; j++) {
            mean[n * d + j] = batchPred[row + j];
            if (variance) variance[n * d + j] = softplus(batchPred[row + d + j]) + (this.varianceFloor ? this.varianceFloor[j] : VARIANCE_FLOOR);
          }
        }
        (this.memberAccs[s] as RegressionMetricsAccumulator).add(mean, targets, variance);
      }
    }
  }

  /** Examples pushed so far. */
  get count(): number {
    return this.totalN;
  }

  /** Every requested mode, concatenated over the pushed batches along the example axis. */
  result(): Record<string, ReducedPrediction> {
    const r: Record<string, ReducedPrediction> = {};
    for (const m of this.modes) {
      r[m] = {
        data: concat(this.chunks.get(m)!),
        shape: outputShape(this.task, this.gaussian, m, this.totalN, this.S, this.out),
      };
    }
    return r;
  }

  /** Metrics of the BMA over every pushed batch (needs targets passed to push()). */
  metrics(): MetricsFor<T> {
    if (this.bmaAcc === null) {
      throw new PushInputError('no targets were pushed: pass y to push() to get metrics');
    }
    return this.bmaAcc.result() as MetricsFor<T>;
  }

  /** One metrics object per member (needs `trackMembers: true` and targets). */
  memberMetrics(): MetricsFor<T>[] {
    if (!this.trackMembers) throw new PushInputError('trackMembers is off: construct with {trackMembers: true}');
    if (this.bmaAcc === null) throw new PushInputError('no targets were pushed: pass y to push() to get metrics');
    return this.memberAccs.map((a) => a.result() as MetricsFor<T>);
  }
}

/** One-shot reduction of a stack [N, S, out]; see PredictiveReducer. */
export function reducePredictions<M extends string>(
  pred: Float32Array,
  dims: StackDims,
  modes: readonly M[],
  task: Task,
  opts: { gaussian?: boolean } = {},
): Record<M, ReducedPrediction> {
  const reducer = new PredictiveReducer(task, modes, opts);
  reducer.push(pred, dims);
  return reducer.result() as Record<M, ReducedPrediction>;
}

/**
 * Metrics of each member on its own (member s: the stack's [:, s, :]), so the gain of
 * the BMA over single members is visible. Classification members are softmaxed logits.
 */
export function memberMetrics(
  pred: Float32Array,
  dims: StackDims,
  y: Float32Array,
  task: 'regression',
  opts?: { gaussian?: boolean },
): RegressionMetrics[];
export function memberMetrics(
  pred: Float32Array,
  dims: StackDims,
  y: ClassLabels,
  task: 'classification',
  opts?: { bins?: number },
): ClassificationMetrics[];
export function memberMetrics(
  pred: Float32Array,
  dims: StackDims,
  y: Float32Array | ClassLabels,
  task: Task,
  opts: { gaussian?: boolean; bins?: number } = {},
): RegressionMetrics[] | ClassificationMetrics[] {
  const reducer = new PredictiveReducer<Task>(task, [], { ...opts, trackMembers: true });
  reducer.push(pred, dims, y as Float32Array);
  return reducer.memberMetrics() as RegressionMetrics[] | ClassificationMetrics[];
}
