// Charts of the uncertainty tools, as vega-lite specs (rendered by plot.ts):
//   - OOD: per score, histograms of in-distribution and OOD scores (each as a
//     fraction of its own set, so sets of different sizes compare), and the ROC
//     curves of every score with their AUROC;
//   - regression calibration: expected against observed coverage of central
//     intervals, before and after the variance scale, against the diagonal.
import { rocCurve } from '../uncertainty/ood';

type Json = Record<string, unknown>;

const IN_OUT = { domain: ['in-distribution', 'OOD'], range: ['#4c78a8', '#e45756'] };
const SCORE_COLORS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d'];

function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(5)) : v;
}

export interface OodPlot {
  title: string;
  /** Each score's values on both sets (higher = more uncertain), and its AUROC. */
  scores: { name: string; in: ArrayLike<number>; out: ArrayLike<number>; auroc: number }[];
  inName: string;
  outName: string;
  bins?: number;
}

/** Histogram rows of one set on shared bin edges: fraction of the set per bin. */
function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number, set: string): Json[] {
  const counts = new Array<number>(bins).fill(0);
  const width = (hi - lo) / bins || 1;
  for (let i = 0; i < values.length; i++) counts[Math.min(bins - 1, Math.max(0, Math.floor((values[i] - lo) / width)))]++;
  return counts.map((c, b) => ({ lo: round(lo + b * width), hi: round(lo + (b + 1) * width), fraction: round(c / Math.max(values.length, 1)), set }));
}

/** At most `max` ROC points (evenly along the curve), always with both ends. */
function thinRoc(fpr: Float64Array, tpr: Float64Array, max = 400): { fpr: number; tpr: number }[] {
  const step = Math.max(1, Math.ceil(fpr.length / max));
  const pts: { fpr: number; tpr: number }[] = [{ fpr: 0, tpr: 0 }];
  for (let i = 0; i < fpr.length; i += step) pts.push({ fpr: round(fpr[i]), tpr: round(tpr[i]) });
  pts.push({ fpr: 1, tpr: 1 });
  return pts;
}

export function oodSpec(p: OodPlot): Json {
  const bins = p.bins ?? 30;
  const panels: Json[] = p.scores.map((s, k) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const a of [s.in, s.out]) for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) (lo = Math.min(lo, a[i])), (hi = Math.max(hi, a[i]));
    if (!(hi > lo)) hi = lo + 1;
    const rows = [...histogram(s.in, lo, hi, bins, 'in-distribution'), ...histogram(s.out, lo, hi, bins, 'OOD')];
    return {
      name: `hist_${s.name}`,
      width: 250,
      height: 170,
      title: { text: `${s.name} (AUROC ${s.auroc.toFixed(3)})`, fontSize: 12 },
      data: { values: rows },
      mark: { type: 'rect', opacity: 0.55 },
      encoding: {
        x: { field: 'lo', type: 'quantitative', title: `${s.name} score`, scale: { domain: [round(lo), round(hi)], nice: false, zero: false } },
        x2: { field: 'hi' },
        y: { datum: 0, type: 'quantitative' },
        y2: { field: 'fraction', type: 'quantitative', title: 'fraction of set' },
        // One legend, inside the first panel's top right (where OOD scores rarely pile up).
        color: { field: 'set', type: 'nominal', scale: IN_OUT, legend: k === 0 ? { orient: 'none', legendX: 140, legendY: 4, title: null } : null },
      },
    };
  });
  const roc: Json[] = [];
  p.scores.forEach((s) => {
    const c = rocCurve(s.in, s.out);
    for (const pt of thinRoc(c.fpr, c.tpr)) roc.push({ ...pt, score: `${s.name} (${s.auroc.toFixed(3)})` });
  });
  const rocPanel: Json = {
    name: 'roc',
    width: 250,
    height: 170,
    layer: [
      {
        data: { values: [{ v: 0 }, { v: 1 }] },
        mark: { type: 'line', strokeDash: [4, 4], color: '#888888' },
        encoding: { x: { field: 'v', type: 'quantitative' }, y: { field: 'v', type: 'quantitative' } },
      },
      {
        data: { values: roc },
        mark: { type: 'line', strokeWidth: 2, clip: true },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: 'false positive rate (in-distribution flagged)', scale: { domain: [0, 1], nice: false } },
          y: { field: 'tpr', type: 'quantitative', title: 'true positive rate (OOD flagged)', scale: { domain: [0, 1], nice: false } },
          stroke: { field: 'score', type: 'nominal', scale: { range: SCORE_COLORS }, legend: { orient: 'right', title: 'ROC of score (AUROC)' } },
        },
      },
    ],
  };
  const all = [...panels, rocPanel];
  const rows: Json[] = [];
  for (let i = 0; i < all.length; i += 2) rows.push({ hconcat: all.slice(i, i + 2), resolve: { legend: { color: 'independent' } } });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: p.title, subtitle: [`in-distribution: ${p.inName} · OOD: ${p.outName}`, 'histograms: fraction of each set per bin · ROC: OOD flagged when score ≥ t'] },
    background: 'white',
    resolve: { scale: { color: 'independent', stroke: 'independent' } },
    vconcat: rows,
  };
}

export interface CoveragePlot {
  title: string;
  expected: number[];
  observed: number[];
  /** After the variance scale, when the checkpoint is calibrated. */
  observedCalibrated?: number[];
  scale?: number;
  examples: number;
}

export function coverageSpec(p: CoveragePlot): Json {
  const rows: Json[] = [{ expected: 0, observed: 0, curve: 'uncalibrated' }];
  p.expected.forEach((e, i) => rows.push({ expected: round(e), observed: round(p.observed[i]), curve: 'uncalibrated' }));
  rows.push({ expected: 1, observed: 1, curve: 'uncalibrated' });
  const calibratedName = p.scale !== undefined ? `variance x ${round(p.scale)}` : 'calibrated';
  if (p.observedCalibrated) {
    rows.push({ expected: 0, observed: 0, curve: calibratedName });
    p.expected.forEach((e, i) => rows.push({ expected: round(e), observed: round(p.observedCalibrated![i]), curve: calibratedName }));
    rows.push({ expected: 1, observed: 1, curve: calibratedName });
  }
  const axis = { type: 'quantitative', scale: { domain: [0, 1] } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: p.title, subtitle: [`central intervals μ ± z σ on ${p.examples} examples`, 'below the diagonal: over-confident · above: under-confident'] },
    background: 'white',
    width: 380,
    height: 380,
    layer: [
      {
        data: { values: [{ v: 0 }, { v: 1 }] },
        mark: { type: 'line', strokeDash: [4, 4], color: '#888888' },
        encoding: { x: { field: 'v', ...axis }, y: { field: 'v', ...axis } },
      },
      {
        name: 'coverage',
        data: { values: rows },
        mark: { type: 'line', point: true, strokeWidth: 2 },
        encoding: {
          x: { field: 'expected', ...axis, title: 'expected coverage' },
          y: { field: 'observed', ...axis, title: 'observed coverage' },
          color: { field: 'curve', type: 'nominal', scale: { range: ['#e45756', '#4c78a8'] }, legend: { orient: 'top-left', title: null } },
        },
      },
    ],
  };
}
