// The uncertainty tools of src/uncertainty applied to a live Posterior: OOD
// evaluation, calibration (BMA temperature / variance scale) fitted on held-out
// data and stored with the checkpoint, and split conformal sets and intervals.
//
// Everything starts from one predictive summary per data set (one streamed pass
// through the particles): the BMA's probabilities and mutual information, or
// its predictive mean, total and epistemic variance. The rest is plain arrays.
import { PushInputError, describeValue } from '../util/errors';
import { Rng, deriveSeed } from '../util/rng';
import type { Dataset, Task } from '../data/dataset';
import { ArrayInput, readTargets } from './data';
import { ClassificationMetrics, classificationMetrics } from './metrics';
import { VARIANCE_FLOOR } from './predictive';
import {
  OodMetrics,
  OodScoreName,
  accuracyRejection,
  aurc,
  correctness,
  evaluateOodScores,
  oodScores,
  Reduced,
} from '../uncertainty/ood';
import {
  RegressionCalibrationStats,
  applyTemperature,
  coverageCurve,
  fitTemperature,
  fitVarianceScale,
  regressionCalibrationStats,
  scaleVariance,
} from '../uncertainty/calibration';
import {
  CONFORMAL_METHODS,
  ConformalMethod,
  PredictionSets,
  classificationScores,
  conformalIntervals,
  conformalQuantile,
  conformalSets,
  intervalCoverage,
  setCoverage,
} from '../uncertainty/conformal';

export type UncertaintyInputs = ArrayInput | Dataset | { x: ArrayInput; xShape?: number[] };
/** Prediction options the summaries pass through (Posterior's PredictOptions). */
export interface SummaryOptions {
  batchSize?: number;
  numSamples?: number;
  originalUnits?: boolean;
}

/**
 * What these tools use of a Posterior. Declared here rather than imported, so that
 * posterior.ts can import this module without an import cycle.
 */
export interface Posterior {
  readonly task: Task;
  readonly normalization?: { yStd?: ArrayLike<number> };
  readonly info: { gaussian?: boolean; noiseVariance?: number[]; trainLosses?: number[]; common: { seed: number } };
  predict(x: UncertaintyInputs, opts: SummaryOptions & { modes: string[] }): Promise<Record<string, { data: Float32Array; shape: number[] }>>;
}

/** The BMA's predictive on one data set, as the uncertainty tools need it. */
export interface PredictiveSummary {
  task: Task;
  n: number;
  /** Classification: p̄ [n, C] and the mutual information [n]. */
  probs?: Float32Array;
  C?: number;
  mutualInfo?: Float32Array;
  /** Regression: predictive mean, total variance (members' spread + noise or variance head) and epistemic variance, [n, d]. */
  mean?: Float32Array;
  variance?: Float32Array;
  epistemicVar?: Float32Array;
  d?: number;
}

const reduced = (data: Float32Array, shape: number[]): Reduced => ({ data, shape });

/** One streamed pass: the predictive summary of x (regression in original units when asked). */
export async function predictiveSummary(p: Posterior, x: UncertaintyInputs, opts: SummaryOptions = {}): Promise<PredictiveSummary> {
  if (p.task === 'classification') {
    const r = await p.predict(x, { ...opts, modes: ['mean_prob', 'mutual_info'] });
    const [n, C] = r.mean_prob.shape;
    return { task: 'classification', n, C, probs: r.mean_prob.data, mutualInfo: r.mutual_info.data };
  }
  if (p.info.gaussian) {
    const r = await p.predict(x, { ...opts, modes: ['mean', 'variance', 'epistemic_var'] });
    const [n, d] = [r.mean.shape[0], r.mean.shape[1] ?? 1];
    return { task: 'regression', n, d, mean: r.mean.data, variance: r.variance.data, epistemicVar: r.epistemic_var.data };
  }
  // mse members: the predictive is their spread plus the noise variance estimated after training.
  const r = await p.predict(x, { ...opts, modes: ['mean', 'std'] });
  const [n, d] = [r.mean.shape[0], r.mean.shape[1] ?? 1];
  const noise = noiseVarianceOf(p, d, opts.originalUnits === true);
  const epistemicVar = Float32Array.from(r.std.data, (s) => s * s);
  const variance = Float32Array.from(epistemicVar, (v, i) => Math.max(v + noise[i % d], VARIANCE_FLOOR));
  return { task: 'regression', n, d, mean: r.mean.data, variance, epistemicVar };
}

/** An mse posterior's noise variance per target column (the training estimate), in the units asked for. */
function noiseVarianceOf(p: Posterior, d: number, originalUnits: boolean): number[] {
  const info = p.info;
  let v = info.noiseVariance;
  if (!v && info.trainLosses?.length) v = new Array<number>(d).fill(info.trainLosses.reduce((a, b) => a + b, 0) / info.trainLosses.length);
  if (!v || v.length !== d) throw new PushInputError(`this posterior has no noise variance for its ${d} target column(s): train it to the end (an mse model's predictive needs one)`);
  const yStd = originalUnits ? p.normalization?.yStd : undefined;
  return v.map((e, j) => e * (yStd ? yStd[j] * yStd[j] : 1));
}

/** The uncertainty scores of a summary (higher = more uncertain), see oodScores. */
export function summaryScores(s: PredictiveSummary): Partial<Record<OodScoreName, Float64Array>> {
  if (s.task === 'classification') return oodScores('classification', { mean_prob: reduced(s.probs!, [s.n, s.C!]), mutual_info: reduced(s.mutualInfo!, [s.n]) });
  return oodScores('regression', { variance: reduced(s.variance!, [s.n, s.d!]), epistemic_var: reduced(s.epistemicVar!, [s.n, s.d!]) }, true);
}

// ---------------------------------------------------------------------------
// OOD detection and selective prediction

export interface SelectiveReport {
  /** 'error' (1 − correct, classification) or 'squared_error' (of the predictive mean, mean over outputs). */
  loss: 'error' | 'squared_error';
  /** Area under the risk–coverage curve (lower is better). */
  aurc: number;
  /** Classification: accuracy after rejecting the most uncertain fraction. */
  accuracyRejection?: { rejection: number[]; accuracy: number[] };
}

export interface OodEvaluation {
  task: Task;
  inExamples: number;
  outExamples: number;
  /** AUROC, AUPR-In, AUPR-Out and FPR@95%TPR of each score, in-distribution against OOD. */
  metrics: Partial<Record<OodScoreName, OodMetrics>>;
  /** With in-distribution targets: selective prediction ranked by each score. */
  selective?: Partial<Record<OodScoreName, SelectiveReport>>;
  /** With keepScores: every example's scores, for plots. */
  scores?: { in: Partial<Record<OodScoreName, Float64Array>>; out: Partial<Record<OodScoreName, Float64Array>> };
}

export interface OodOptions extends SummaryOptions {
  /** Targets of the in-distribution inputs: adds selective prediction (AURC, accuracy–rejection). */
  yIn?: ArrayInput;
  /** Keep each example's scores in the result. */
  keepScores?: boolean;
}

/** Per-example loss of the predictive: classification 1 − correct, regression squared error (mean over outputs). */
export function summaryLoss(s: PredictiveSummary, y: Float32Array): Float64Array {
  if (s.task === 'classification') {
    const c = correctness(s.probs!, s.C!, y);
    return Float64Array.from(c, (v) => 1 - v);
  }
  const d = s.d!;
  return Float64Array.from({ length: s.n }, (_, i) => {
    let e = 0;
    for (let j = 0; j < d; j++) e += (s.mean![i * d + j] - y[i * d + j]) ** 2;
    return e / d;
  });
}

/** Selective prediction of each score on labelled in-distribution data. */
export function selectiveReport(s: PredictiveSummary, scores: Partial<Record<OodScoreName, Float64Array>>, y: Float32Array): Partial<Record<OodScoreName, SelectiveReport>> {
  const loss = summaryLoss(s, y);
  const out: Partial<Record<OodScoreName, SelectiveReport>> = {};
  for (const [name, sc] of Object.entries(scores) as [OodScoreName, Float64Array][]) {
    const r: SelectiveReport = { loss: s.task === 'classification' ? 'error' : 'squared_error', aurc: aurc(sc, loss) };
    if (s.task === 'classification') r.accuracyRejection = accuracyRejection(sc, Float64Array.from(loss, (l) => 1 - l));
    out[name] = r;
  }
  return out;
}

/** Targets of a summary's task, checked: class labels [n] or regression targets [n, d]. */
export function summaryTargets(p: Posterior, s: PredictiveSummary, y: ArrayInput, what = 'y'): Float32Array {
  return readTargets(y, s.n, s.task, s.task === 'classification' ? s.C! : s.d!, what);
}

export function oodFromSummaries(sIn: PredictiveSummary, sOut: PredictiveSummary, yIn?: Float32Array, keepScores = false): OodEvaluation {
  if (sIn.n === 0 || sOut.n === 0) throw new PushInputError(`evaluateOOD needs examples on both sides: got ${sIn.n} in-distribution and ${sOut.n} OOD`);
  const scoresIn = summaryScores(sIn);
  const scoresOut = summaryScores(sOut);
  const r: OodEvaluation = { task: sIn.task, inExamples: sIn.n, outExamples: sOut.n, metrics: evaluateOodScores(scoresIn, scoresOut) };
  if (yIn) r.selective = selectiveReport(sIn, scoresIn, yIn);
  if (keepScores) r.scores = { in: scoresIn, out: scoresOut };
  return r;
}

/** OOD detection of xOut against xIn by each uncertainty score of the (uncalibrated) BMA. */
export async function evaluateOOD(p: Posterior, xIn: UncertaintyInputs, xOut: UncertaintyInputs, opts: OodOptions = {}): Promise<OodEvaluation> {
  const sIn = await predictiveSummary(p, xIn, opts);
  const sOut = await predictiveSummary(p, xOut, opts);
  const yIn = opts.yIn !== undefined ? summaryTargets(p, sIn, opts.yIn, 'yIn') : undefined;
  return oodFromSummaries(sIn, sOut, yIn, opts.keepScores);
}

// ---------------------------------------------------------------------------
// Calibration: fitted on held-out data, stored in the checkpoint.

export const CALIBRATION_VERSION = 1;
/** At most this many conformal scores per method are stored (a bounded manifest). */
export const MAX_CONFORMAL_SCORES = 200_000;

/**
 * A posterior's calibration. The held-out examples are split in two seeded halves:
 * the first fits the temperature (classification) or variance scale (regression) by
 * minimising the NLL; the second gives the conformal scores of the calibrated model,
 * so a conformal set's guarantee holds for exactly what predict outputs. The scores
 * (sorted) are stored rather than one q̂, so any α can be asked for later.
 */
export interface PosteriorCalibration {
  version: typeof CALIBRATION_VERSION;
  task: Task;
  /** Where the held-out data came from (for people: e.g. "val split of mnist:2000,1000"). */
  source: string;
  seed: number;
  fitExamples: number;
  conformalExamples: number;
  /** Classification: the BMA temperature T (p ∝ p̄^{1/T}). */
  temperature?: number;
  /** Regression: the factor s of every predictive variance. */
  varianceScale?: number;
  /** Mean NLL on the fitting half before and after. */
  fit: { nllBefore: number; nllAfter: number; atBound?: boolean };
  /** Sorted nonconformity scores on the conformal half: lac and aps (classification), or one list per target column. */
  conformal: { lac?: number[]; aps?: number[]; regression?: number[][] };
}

export interface CalibrationOptions extends SummaryOptions {
  source?: string;
  /** Seeds the split into halves and APS's randomisation (default 0). */
  seed?: number;
}

const CAL_SPLIT_STREAM = 0x63616c73; // "cals"

function sortedList(a: ArrayLike<number>): number[] {
  return Array.from(Float64Array.from(a).sort());
}

function take(a: Float32Array, idx: readonly number[], width: number): Float32Array {
  const out = new Float32Array(idx.length * width);
  idx.forEach((i, k) => out.set(a.subarray(i * width, (i + 1) * width), k * width));
  return out;
}

/** Fits a calibration from a summary of held-out data and its targets. */
export function calibrationFromSummary(s: PredictiveSummary, y: Float32Array, opts: { source?: string; seed?: number } = {}): PosteriorCalibration {
  const n = s.n;
  if (n < 2) throw new PushInputError(`calibration needs at least 2 held-out examples (half fit the temperature or variance scale, half give conformal scores): got ${n}`);
  if (n > 2 * MAX_CONFORMAL_SCORES) throw new PushInputError(`calibration data has ${n} examples: expected at most ${2 * MAX_CONFORMAL_SCORES}`);
  const seed = opts.seed ?? 0;
  const order = Array.from(new Rng(deriveSeed(seed >>> 0, CAL_SPLIT_STREAM)).permutation(n));
  const fitIdx = order.slice(0, Math.floor(n / 2));
  const confIdx = order.slice(Math.floor(n / 2));
  const base = { version: CALIBRATION_VERSION, task: s.task, source: opts.source ?? 'given data', seed, fitExamples: fitIdx.length, conformalExamples: confIdx.length } as const;
  if (s.task === 'classification') {
    const C = s.C!;
    const fit = fitTemperature(take(s.probs!, fitIdx, C), C, take(y, fitIdx, 1));
    const probs = applyTemperature(take(s.probs!, confIdx, C), C, fit.temperature);
    const labels = take(y, confIdx, 1);
    return {
      ...base,
      temperature: fit.temperature,
      fit: { nllBefore: fit.nllBefore, nllAfter: fit.nllAfter, atBound: fit.atBound },
      conformal: { lac: sortedList(classificationScores(probs, C, labels, 'lac', seed)), aps: sortedList(classificationScores(probs, C, labels, 'aps', seed)) },
    };
  }
  const d = s.d!;
  const mean = take(s.mean!, fitIdx, d);
  const variance = take(s.variance!, fitIdx, d);
  const yFit = take(y, fitIdx, d);
  const scale = fitVarianceScale(mean, variance, yFit);
  const before = regressionCalibrationStats(mean, variance, yFit).nll;
  const after = regressionCalibrationStats(mean, scaleVariance(variance, scale), yFit).nll;
  const cm = take(s.mean!, confIdx, d);
  const cv = scaleVariance(take(s.variance!, confIdx, d), scale);
  const cy = take(y, confIdx, d);
  const regression = Array.from({ length: d }, (_, j) =>
    sortedList(Float64Array.from({ length: confIdx.length }, (_, i) => Math.abs(cy[i * d + j] - cm[i * d + j]) / Math.sqrt(cv[i * d + j]))),
  );
  return { ...base, varianceScale: scale, fit: { nllBefore: before, nllAfter: after }, conformal: { regression } };
}

/** Fits the calibration of p on held-out (x, y): never the training data, and not the test split you report on. */
export async function fitPosteriorCalibration(p: Posterior, x: UncertaintyInputs, y: ArrayInput | undefined, opts: CalibrationOptions = {}): Promise<PosteriorCalibration> {
  const yIn = y ?? (x as Dataset).y;
  if (yIn === undefined) throw new PushInputError('calibrate needs targets: pass y, or a Dataset with y');
  const s = await predictiveSummary(p, x, opts);
  return calibrationFromSummary(s, summaryTargets(p, s, yIn), { source: opts.source, seed: opts.seed ?? p.info.common.seed });
}

/** The summary with the calibration applied (temperature on p̄; variances times the scale). */
export function calibrateSummary(s: PredictiveSummary, cal: PosteriorCalibration | undefined): PredictiveSummary {
  if (!cal) return s;
  checkTaskMatch(s.task, cal);
  if (s.task === 'classification') return { ...s, probs: applyTemperature(s.probs!, s.C!, cal.temperature!) };
  return { ...s, variance: scaleVariance(s.variance!, cal.varianceScale!), epistemicVar: scaleVariance(s.epistemicVar!, cal.varianceScale!) };
}

function checkTaskMatch(task: Task, cal: PosteriorCalibration): void {
  if (cal.task !== task) throw new PushInputError(`calibration is for ${cal.task}: this posterior does ${task}`);
}

/**
 * Prediction modes with the calibration applied: classification mean_prob (and entropy,
 * recomputed from it); regression every variance mode times s and std times √s. Other
 * modes (member-level ones, mutual_info, mode) are left as they are.
 */
export function calibrateModes(pred: Record<string, Reduced>, task: Task, cal: PosteriorCalibration | undefined): Record<string, Reduced> {
  if (!cal) return pred;
  checkTaskMatch(task, cal);
  const out = { ...pred };
  if (task === 'classification') {
    const T = cal.temperature!;
    if (pred.mean_prob) out.mean_prob = { data: applyTemperature(pred.mean_prob.data, pred.mean_prob.shape[1], T), shape: pred.mean_prob.shape };
    if (pred.entropy) {
      const probs = out.mean_prob?.data;
      if (!probs) throw new PushInputError('calibrated entropy needs mean_prob among the modes computed');
      const C = pred.mean_prob.shape[1];
      out.entropy = {
        data: Float32Array.from(pred.entropy.data, (_, i) => {
          let h = 0;
          for (let c = 0; c < C; c++) if (probs[i * C + c] > 0) h -= probs[i * C + c] * Math.log(probs[i * C + c]);
          return h;
        }),
        shape: pred.entropy.shape,
      };
    }
    return out;
  }
  const s = cal.varianceScale!;
  for (const m of ['variance', 'aleatoric_var', 'epistemic_var']) if (pred[m]) out[m] = { data: scaleVariance(pred[m].data, s), shape: pred[m].shape };
  if (pred.std) out.std = { data: Float32Array.from(pred.std.data, (v) => v * Math.sqrt(s)), shape: pred.std.shape };
  return out;
}

// ---------------------------------------------------------------------------
// Conformal prediction from a stored calibration.

export function checkAlpha(alpha: number, name = 'alpha'): void {
  if (!(alpha > 0 && alpha < 1)) throw new PushInputError(`${name} ${describeValue(alpha)}: expected a number in (0, 1), e.g. 0.1 for 90% coverage`);
}

function needCalibration(cal: PosteriorCalibration | undefined): PosteriorCalibration {
  if (!cal) throw new PushInputError('conformal prediction needs a calibrated posterior: run push-ens calibrate (API: posterior.calibrate(x, y)) first');
  return cal;
}

export interface ConformalResult {
  alpha: number;
  /** Classification method. */
  method?: ConformalMethod;
  /** Thresholds: one (classification) or one per target column; Infinity when the calibration half is too small for α. */
  qhat: number[];
  calibrationExamples: number;
  /** Classification: the sets (the calibrated p̄ is in `probs`). */
  sets?: PredictionSets;
  probs?: Float32Array;
  C?: number;
  /** Regression: intervals [n, d]. */
  lower?: Float32Array;
  upper?: Float32Array;
  mean?: Float32Array;
}

/** Conformal sets or intervals of a summary (uncalibrated; the calibration is applied here). */
export function conformalFromSummary(raw: PredictiveSummary, calibration: PosteriorCalibration | undefined, alpha: number, method: ConformalMethod = 'aps'): ConformalResult {
  checkAlpha(alpha);
  const cal = needCalibration(calibration);
  const s = calibrateSummary(raw, cal);
  if (s.task === 'classification') {
    if (!CONFORMAL_METHODS.includes(method)) throw new PushInputError(`conformal method ${describeValue(method)}: expected lac or aps`);
    const scores = cal.conformal[method]!;
    const qhat = conformalQuantile(scores, alpha);
    const sets = conformalSets({ method, alpha, qhat, n: scores.length }, s.probs!, s.C!, cal.seed);
    return { alpha, method, qhat: [qhat], calibrationExamples: scores.length, sets, probs: s.probs, C: s.C };
  }
  const lists = cal.conformal.regression!;
  if (lists.length !== s.d) throw new PushInputError(`calibration has ${lists.length} target column(s): this posterior predicts ${s.d}`);
  const qhat = lists.map((l) => conformalQuantile(l, alpha));
  const { lower, upper } = conformalIntervals({ alpha, qhat, n: lists[0].length }, s.mean!, Float32Array.from(s.variance!, Math.sqrt));
  return { alpha, qhat, calibrationExamples: lists[0].length, lower, upper, mean: s.mean };
}

export interface ConformalCoverage {
  alpha: number;
  method?: ConformalMethod;
  qhat: number[];
  calibrationExamples: number;
  /** Fraction of test targets inside their set / interval. */
  coverage: number;
  /** Classification: mean set size; also the fraction of empty sets and of singletons. */
  meanSize?: number;
  emptyFraction?: number;
  singletonFraction?: number;
  /** Regression: mean interval width (original units). */
  meanWidth?: number;
}

export function conformalCoverageFromSummary(raw: PredictiveSummary, y: Float32Array, cal: PosteriorCalibration | undefined, alpha: number, method: ConformalMethod = 'aps'): ConformalCoverage {
  const r = conformalFromSummary(raw, cal, alpha, method);
  const head = { alpha, method: r.method, qhat: r.qhat, calibrationExamples: r.calibrationExamples };
  if (r.sets) {
    const { coverage, meanSize } = setCoverage(r.sets, r.C!, y);
    let empty = 0;
    let single = 0;
    for (const k of r.sets.size) (empty += k === 0 ? 1 : 0), (single += k === 1 ? 1 : 0);
    return { ...head, coverage, meanSize, emptyFraction: empty / raw.n, singletonFraction: single / raw.n };
  }
  const { coverage, meanWidth } = intervalCoverage(r.lower!, r.upper!, y);
  return { ...head, coverage, meanWidth };
}

// ---------------------------------------------------------------------------
// Calibration report: uncalibrated against calibrated figures on labelled data.

export interface CalibrationReport {
  task: Task;
  examples: number;
  temperature?: number;
  varianceScale?: number;
  /** ECE, NLL, Brier, accuracy (classification) or NLL, PICP / width at 50/90/95%, quantile calibration error (regression). */
  uncalibrated: ClassificationMetrics | RegressionCalibrationStats;
  calibrated?: ClassificationMetrics | RegressionCalibrationStats;
  /** Regression: expected against observed coverage of central intervals (for the calibration plot). */
  coverageCurve?: { expected: number[]; observed: number[]; observedCalibrated?: number[] };
}

export function calibrationReportFromSummary(raw: PredictiveSummary, y: Float32Array, cal: PosteriorCalibration | undefined, bins?: number): CalibrationReport {
  if (cal) checkTaskMatch(raw.task, cal);
  const head = { task: raw.task, examples: raw.n };
  if (raw.task === 'classification') {
    const before = classificationMetrics({ probs: raw.probs!, C: raw.C!, labels: y, bins });
    if (!cal) return { ...head, uncalibrated: before };
    const after = classificationMetrics({ probs: calibrateSummary(raw, cal).probs!, C: raw.C!, labels: y, bins });
    return { ...head, temperature: cal.temperature, uncalibrated: before, calibrated: after };
  }
  const before = regressionCalibrationStats(raw.mean!, raw.variance!, y);
  const curve: CalibrationReport['coverageCurve'] = coverageCurve(raw.mean!, raw.variance!, y, EVERY_FIVE_PERCENT);
  if (!cal) return { ...head, uncalibrated: before, coverageCurve: curve };
  const scaled = calibrateSummary(raw, cal).variance!;
  curve.observedCalibrated = coverageCurve(raw.mean!, scaled, y, EVERY_FIVE_PERCENT).observed;
  return { ...head, varianceScale: cal.varianceScale, uncalibrated: before, calibrated: regressionCalibrationStats(raw.mean!, scaled, y), coverageCurve: curve };
}

const EVERY_FIVE_PERCENT = Array.from({ length: 19 }, (_, i) => (i + 1) / 20);

// ---------------------------------------------------------------------------
// Stored form: checked when a manifest is read.

function finitePositive(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

function sortedScores(v: unknown): v is number[] {
  if (!Array.isArray(v) || v.length < 1 || v.length > MAX_CONFORMAL_SCORES) return false;
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number' || Number.isNaN(v[i]) || (i > 0 && v[i] < v[i - 1])) return false;
  }
  return true;
}

/**
 * The calibration of a manifest (field `calibration`), checked: undefined when absent
 * (checkpoints from before calibration, or never calibrated), a one-line error when malformed.
 */
export function parseStoredCalibration(v: unknown, task: Task, outputs: number, dir: string): PosteriorCalibration | undefined {
  if (v === undefined) return undefined;
  const bad = (what: string) => new PushInputError(`checkpoint ${dir}: manifest.json field calibration ${what}: the checkpoint is corrupt`);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('is not an object');
  const c = v as Record<string, unknown>;
  if (c.version !== CALIBRATION_VERSION) throw bad(`has version ${describeValue(c.version)}, expected ${CALIBRATION_VERSION}`);
  if (c.task !== task) throw bad(`is for ${describeValue(c.task)}, but the model does ${task}`);
  if (typeof c.source !== 'string' || c.source.length > 1000) throw bad('has no source');
  if (!Number.isSafeInteger(c.seed) || (c.seed as number) < 0) throw bad('has a bad seed');
  for (const f of ['fitExamples', 'conformalExamples']) if (!Number.isSafeInteger(c[f]) || (c[f] as number) < 1) throw bad(`field ${f} is ${describeValue(c[f])}`);
  const fit = c.fit as Record<string, unknown> | undefined;
  if (!fit || typeof fit !== 'object' || typeof fit.nllBefore !== 'number' || typeof fit.nllAfter !== 'number') throw bad('has no fit');
  const conf = c.conformal as Record<string, unknown> | undefined;
  if (!conf || typeof conf !== 'object') throw bad('has no conformal scores');
  const n = c.conformalExamples as number;
  if (task === 'classification') {
    if (!finitePositive(c.temperature)) throw bad(`temperature is ${describeValue(c.temperature)}`);
    for (const m of CONFORMAL_METHODS) if (!sortedScores(conf[m]) || (conf[m] as number[]).length !== n) throw bad(`${m} scores are not ${n} sorted numbers`);
  } else {
    if (!finitePositive(c.varianceScale)) throw bad(`varianceScale is ${describeValue(c.varianceScale)}`);
    const lists = conf.regression;
    if (!Array.isArray(lists) || lists.length !== outputs || !lists.every((l) => sortedScores(l) && l.length === n)) throw bad(`regression scores are not ${outputs} list(s) of ${n} sorted numbers`);
  }
  return c as unknown as PosteriorCalibration;
}
