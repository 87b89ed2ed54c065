// The uncertainty parts of eval and predict on the command line: OOD data
// (--ood SPEC), stored calibration, conformal sets and intervals, and their
// tables. Flags are parsed and data loaded before any worker starts.
import { PushInputError } from '../util/errors';
import type { Dataset } from '../data/dataset';
import { loadDataset } from '../data/specs';
import { CONFORMAL_METHODS, ConformalMethod } from '../uncertainty/conformal';
import type { OodMetrics } from '../uncertainty/ood';
import type { RegressionCalibrationStats } from '../uncertainty/calibration';
import type { ClassificationMetrics } from '../bayes/metrics';
import type * as UQ from '../bayes/posterior-uncertainty';
import type { Posterior } from '../bayes/posterior';
import type * as Engine from './engine';
import { parseDataSpecOption } from './data';
import { fmt, formatTable } from './output';
import { parseChoice, parseNumber, show } from './options';

// posterior-uncertainty is loaded with the engine, on first use.
function uq(): typeof UQ {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../bayes/posterior-uncertainty') as typeof UQ;
}

export interface ConformalFlags {
  conformal?: string;
  conformalMethod?: string;
}

export interface ConformalChoice {
  alpha: number;
  method: ConformalMethod;
}

/** --conformal ALPHA [--conformal-method lac|aps] (default aps); undefined without --conformal. */
export function parseConformalFlags(flags: ConformalFlags, info: Engine.CheckpointInfo): ConformalChoice | undefined {
  if (flags.conformal === undefined) {
    if (flags.conformalMethod !== undefined) throw new PushInputError('--conformal-method applies with --conformal ALPHA');
    return undefined;
  }
  const alpha = parseNumber('--conformal', flags.conformal, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  if (flags.conformalMethod !== undefined && info.task !== 'classification') throw new PushInputError('--conformal-method applies to classification (regression intervals are normalised by the predictive std)');
  const method = parseChoice('--conformal-method', flags.conformalMethod ?? 'aps', CONFORMAL_METHODS);
  if (!info.info.calibration) {
    throw new PushInputError(`--conformal needs a calibrated checkpoint: run push-ens calibrate --checkpoint ${show(info.dir)} first (it stores the conformal scores of held-out data)`);
  }
  return { alpha, method };
}

export interface OodData {
  spec: string;
  split: string;
  x: Float32Array;
  xShape: number[];
}

/** The OOD set of --ood SPEC: its test split (all of it when it has none), in original units; same input shape as the model. */
export function loadOodData(specText: string, info: Engine.CheckpointInfo): OodData {
  const spec = (() => {
    try {
      return parseDataSpecOption(specText);
    } catch (err) {
      throw err instanceof PushInputError ? new PushInputError(err.message.replace(/^--data: /, '--ood: ')) : err;
    }
  })();
  const seed = info.stored?.seed ?? info.info.common.seed;
  let split;
  try {
    split = loadDataset(spec, { seed, task: spec.kind === 'csv' ? info.task : undefined, standardize: false });
  } catch (err) {
    if (err instanceof PushInputError) throw new PushInputError(`--ood ${show(specText)}: ${err.message}`);
    throw err;
  }
  const ds: Dataset = split.test && split.test.xShape[0] > 0 ? split.test : split.train;
  const want = info.info.inputShape;
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const row = ds.xShape.slice(1);
  if (size(row) !== size(want)) {
    throw new PushInputError(`--ood ${show(specText)} has inputs of shape [${row.join(', ')}], but the checkpoint's model takes inputs of shape [${want.join(', ')}]: expected OOD data of the same input shape`);
  }
  if (ds.xShape[0] === 0) throw new PushInputError(`--ood ${show(specText)} has no examples: expected at least one`);
  return { spec: specText, split: ds === split.test ? 'test' : 'all', x: ds.x, xShape: ds.xShape };
}

// ---------------------------------------------------------------------------
// eval

export interface EvalUncertainty {
  ood?: OodData;
  conformal?: ConformalChoice;
}

/** eval's extra figures: calibration (when the checkpoint has one), OOD and conformal coverage. */
export async function evalUncertainty(p: Posterior, chosen: Dataset, plan: EvalUncertainty): Promise<{ json: Record<string, unknown>; text: string } | undefined> {
  const cal = p.info.calibration;
  if (!cal && !plan.ood && !plan.conformal) return undefined;
  const U = uq();
  const units = { originalUnits: true };
  const s = await U.predictiveSummary(p, chosen, units);
  const y = U.summaryTargets(p, s, chosen.y);
  const json: Record<string, unknown> = {};
  const text: string[] = [];
  if (cal) {
    const report = U.calibrationReportFromSummary(s, y, cal);
    json.calibration = { source: cal.source, fitExamples: cal.fitExamples, conformalExamples: cal.conformalExamples, ...report };
    text.push(calibrationText(report));
  }
  if (plan.conformal) {
    const c = U.conformalCoverageFromSummary(s, y, cal, plan.conformal.alpha, plan.conformal.method);
    json.conformal = c;
    text.push(conformalText(c));
  }
  if (plan.ood) {
    const sOut = await U.predictiveSummary(p, { x: plan.ood.x, xShape: plan.ood.xShape }, units);
    const ood = U.oodFromSummaries(s, sOut, y);
    json.ood = { data: plan.ood.spec, split: plan.ood.split, ...ood };
    text.push(oodText(ood, plan.ood));
  }
  return { json, text: text.join('\n\n') };
}

export function oodText(r: UQ.OodEvaluation, data: { spec: string; split: string }): string {
  const names = Object.keys(r.metrics) as (keyof typeof r.metrics)[];
  const rows = names.map((n) => {
    const m = r.metrics[n] as OodMetrics;
    const sel = r.selective?.[n];
    return [n, fmt(m.auroc), fmt(m.auprIn), fmt(m.auprOut), fmt(m.fpr95), sel ? fmt(sel.aurc) : '-', sel?.accuracyRejection ? fmt(at(sel.accuracyRejection, 0.1)) : '-', sel?.accuracyRejection ? fmt(at(sel.accuracyRejection, 0.5)) : '-'];
  });
  const reg = r.task === 'regression';
  const header = ['score', 'AUROC', 'AUPR-in', 'AUPR-out', 'FPR@95', reg ? 'AURC (mse)' : 'AURC', reg ? '' : 'acc@10% rej', reg ? '' : 'acc@50% rej'];
  const table = formatTable(reg ? header.slice(0, 6) : header, reg ? rows.map((row) => row.slice(0, 6)) : rows);
  return `OOD: ${r.inExamples} in-distribution examples against ${r.outExamples} of ${data.spec} (${data.split} split); higher score = more uncertain\n${table}`;
}

function at(curve: { rejection: number[]; accuracy: number[] }, rate: number): number {
  const i = curve.rejection.findIndex((r) => Math.abs(r - rate) < 1e-9);
  return i < 0 ? NaN : curve.accuracy[i];
}

export function calibrationText(r: UQ.CalibrationReport): string {
  if (r.task === 'classification') {
    const keys: (keyof ClassificationMetrics)[] = ['accuracy', 'ece', 'nll', 'brier'];
    const rows = [['uncalibrated', ...keys.map((k) => fmt(r.uncalibrated[k as keyof typeof r.uncalibrated] as number))]];
    if (r.calibrated) rows.push([`temperature ${fmt(r.temperature)}`, ...keys.map((k) => fmt(r.calibrated![k as keyof typeof r.calibrated] as number))]);
    return `calibration on ${r.examples} examples:\n${formatTable(['', ...keys], rows)}`;
  }
  const line = (name: string, st: RegressionCalibrationStats) => [
    name,
    fmt(st.nll),
    ...st.intervals.flatMap((iv) => [fmt(iv.picp), fmt(iv.meanWidth)]),
    fmt(st.quantileCalibrationError),
  ];
  const before = r.uncalibrated as RegressionCalibrationStats;
  const header = ['', 'nll', ...before.intervals.flatMap((iv) => [`picp${Math.round(iv.level * 100)}`, `width${Math.round(iv.level * 100)}`]), 'qce'];
  const rows = [line('uncalibrated', before)];
  if (r.calibrated) rows.push(line(`variance x ${fmt(r.varianceScale)}`, r.calibrated as RegressionCalibrationStats));
  return `calibration on ${r.examples} examples (picp: fraction inside the central interval; qce: quantile calibration error):\n${formatTable(header, rows)}`;
}

export function conformalText(c: UQ.ConformalCoverage): string {
  const q = c.qhat.map((v) => fmt(v)).join(', ');
  const what =
    c.meanSize !== undefined
      ? `mean set size ${fmt(c.meanSize)} (empty ${fmt(c.emptyFraction)}, singletons ${fmt(c.singletonFraction)})`
      : `mean interval width ${fmt(c.meanWidth)}`;
  return `conformal (${c.method ?? 'normalised intervals'}, alpha ${c.alpha}, target coverage >= ${fmt(1 - c.alpha)}): coverage ${fmt(c.coverage)}, ${what}; q-hat ${q} from ${c.calibrationExamples} calibration examples`;
}

// ---------------------------------------------------------------------------
// predict

/**
 * The asked modes with the checkpoint's calibration applied (unless `raw`), computing
 * mean_prob as well when a calibrated entropy needs it.
 */
export async function predictCalibrated(p: Posterior, x: Float32Array, xShape: number[], modes: string[], raw: boolean): Promise<Engine.Prediction> {
  const cal = raw ? undefined : p.info.calibration;
  const extra = cal && p.task === 'classification' && modes.includes('entropy') && !modes.includes('mean_prob');
  const pred = await p.predict({ x, xShape }, { modes: extra ? [...modes, 'mean_prob'] : modes, originalUnits: true });
  const out = uq().calibrateModes(pred, p.task, cal);
  if (extra) delete out.mean_prob;
  return out as Engine.Prediction;
}

/** Conformal columns for predict: set (class names joined by "|") and set_size, or lower/upper per target. */
export async function conformalColumns(
  p: Posterior,
  x: Float32Array,
  xShape: number[],
  choice: ConformalChoice,
  classNames: string[] | undefined,
): Promise<{ header: string[]; cells: (i: number) => (number | string)[]; json: Record<string, unknown> }> {
  const U = uq();
  const r = U.conformalFromSummary(await U.predictiveSummary(p, { x, xShape }, { originalUnits: true }), p.info.calibration, choice.alpha, choice.method);
  const head = { alpha: r.alpha, method: r.method, qhat: r.qhat, calibrationExamples: r.calibrationExamples };
  if (r.sets) {
    const C = r.C!;
    const members = (i: number) => Array.from({ length: C }, (_, c) => c).filter((c) => r.sets!.member[i * C + c] === 1);
    const name = (c: number) => classNames?.[c] ?? String(c);
    return {
      header: ['set', 'set_size'],
      cells: (i) => [members(i).map(name).join('|'), r.sets!.size[i]],
      json: { ...head, sets: Array.from({ length: r.sets.size.length }, (_, i) => members(i)) },
    };
  }
  const d = r.qhat.length;
  const header = d === 1 ? ['lower', 'upper'] : Array.from({ length: d }, (_, j) => [`lower_${j}`, `upper_${j}`]).flat();
  return {
    header,
    cells: (i) => Array.from({ length: d }, (_, j) => [r.lower![i * d + j], r.upper![i * d + j]]).flat(),
    json: { ...head, lower: r.lower, upper: r.upper },
  };
}
