// Charts rendered to SVG in Node, without a browser: a vega-lite spec compiled
// to vega and rendered headless (`renderer: 'none'`, then toSVG()).
//   - 1-D regression: the data, each particle's curve, the BMA mean and a
//     +-2 std band, over a range wider than the data.
//   - classification: a reliability diagram (accuracy against confidence per
//     bin, the diagonal of perfect calibration) with the ECE in the title, over
//     confidences in [1/K, 1], and the examples per bin beneath it.
import type { ReliabilityBin } from '../bayes/metrics';
import { PushInputError } from '../util/errors';

export interface Series {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface RegressionPlot {
  title: string;
  xName: string;
  yName: string;
  train: Series;
  test?: Series;
  /** Inputs at which the curves are drawn (sorted). */
  grid: ArrayLike<number>;
  /** BMA mean and std at each grid point. */
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
  /** One curve per particle (or member) at each grid point. */
  members: ArrayLike<number>[];
  /** Name of the members in the legend: "particle" or "sample". */
  memberLabel?: string;
}

export interface ReliabilityPlot {
  title: string;
  bins: ReliabilityBin[];
  /** Number of classes: the confidence axis starts at 1/classes. */
  classes: number;
  ece: number;
  accuracy: number;
  examples: number;
}

type Json = Record<string, unknown>;

const WIDTH = 560;
const HEIGHT = 360;

function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(6)) : v;
}

/** Train and test points: distinct colours and shapes (readable in grey and by the colour-blind). */
const SPLIT_STYLE = { domain: ['train', 'test'], colors: ['#4d4d4d', '#e45756'], shapes: ['circle', 'triangle-up'] };
/** One colour per particle curve (cycled beyond ten); none of them the band's blue or the points' colours. */
const MEMBER_COLORS = ['#f58518', '#54a24b', '#b279a2', '#9d755d', '#eeca3b', '#72b7b2', '#ff9da6', '#8c564b', '#17becf', '#bcbd22'];

/**
 * The vega-lite spec of a 1-D regression plot. Layers, bottom to top: the ±2 std band, the
 * BMA mean (thick), each member's curve (thin, one colour each, drawn over the mean so they
 * show where they agree with it), the data. Layers are named so the SVG's groups can be found.
 */
export function regressionSpec(p: RegressionPlot): Json {
  const band: Json[] = [];
  const curves: Json[] = [];
  for (let i = 0; i < p.grid.length; i++) {
    const x = round(p.grid[i]);
    band.push({ x, mean: round(p.mean[i]), lo: round(p.mean[i] - 2 * p.std[i]), hi: round(p.mean[i] + 2 * p.std[i]) });
    p.members.forEach((m, k) => curves.push({ x, y: round(m[i]), member: k }));
  }
  const points: Json[] = [];
  const addPoints = (s: Series | undefined, split: string) => {
    if (!s) return;
    for (let i = 0; i < s.x.length; i++) points.push({ x: round(s.x[i]), y: round(s.y[i]), split });
  };
  addPoints(p.train, 'train');
  addPoints(p.test, 'test');
  const xEnc = { field: 'x', type: 'quantitative', title: p.xName, scale: { zero: false, nice: false } };
  const yScale = { zero: false };
  const split = { field: 'split', type: 'nominal', title: null };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    // Two short subtitle lines: headless text measuring overestimates long lines and pads the chart.
    title: { text: p.title, subtitle: ['thick: BMA mean · band: ± 2 std', `thin coloured: each ${p.memberLabel ?? 'particle'}`] },
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    layer: [
      {
        name: 'band',
        data: { values: band },
        mark: { type: 'area', opacity: 0.22, color: '#4c78a8' },
        encoding: { x: xEnc, y: { field: 'lo', type: 'quantitative', title: p.yName, scale: yScale }, y2: { field: 'hi' } },
      },
      {
        name: 'bma_mean',
        data: { values: band },
        mark: { type: 'line', strokeWidth: 3.5, color: '#1f3f8f' },
        encoding: { x: xEnc, y: { field: 'mean', type: 'quantitative', scale: yScale } },
      },
      {
        name: 'particles',
        data: { values: curves },
        mark: { type: 'line', strokeWidth: 1.3, opacity: 0.9 },
        encoding: {
          x: xEnc,
          y: { field: 'y', type: 'quantitative', scale: yScale },
          // stroke, not color: its own scale, so the data's colour legend stays one legend.
          stroke: { field: 'member', type: 'nominal', scale: { range: MEMBER_COLORS }, legend: null },
          detail: { field: 'member', type: 'nominal' },
        },
      },
      {
        name: 'data',
        data: { values: points },
        mark: { type: 'point', filled: true, size: 22, opacity: 0.85 },
        encoding: {
          x: xEnc,
          y: { field: 'y', type: 'quantitative', scale: yScale },
          color: { ...split, scale: { domain: SPLIT_STYLE.domain, range: SPLIT_STYLE.colors }, legend: { orient: 'top-left' } },
          shape: { ...split, scale: { domain: SPLIT_STYLE.domain, range: SPLIT_STYLE.shapes }, legend: { orient: 'top-left' } },
        },
      },
    ],
  };
}

/**
 * The confidence axis of a reliability diagram: the top class's probability is at least
 * 1/K with K classes, so [1/K, 1] holds every example ([0.5, 1] for two classes).
 */
export function confidenceDomain(classes: number): [number, number] {
  return [classes >= 2 ? round(1 / classes) : 0, 1];
}

/**
 * The vega-lite spec of a reliability diagram: accuracy per confidence bin against the
 * diagonal, and beneath it the number of examples per bin (bars labelled with the count),
 * over the confidences the classes allow.
 */
export function reliabilitySpec(p: ReliabilityPlot): Json {
  const domain = confidenceDomain(p.classes);
  // A bin straddling 1/K is drawn from 1/K: nothing lies below it.
  const bars = p.bins
    .filter((b) => b.count > 0)
    .map((b) => ({ lo: round(Math.max(b.lo, domain[0])), hi: round(b.hi), mid: round((Math.max(b.lo, domain[0]) + b.hi) / 2), accuracy: round(b.accuracy), confidence: round(b.confidence), count: b.count }));
  const fraction = { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] } };
  const maxCount = Math.max(1, ...bars.map((b) => b.count));
  const xScale = { domain, nice: false, zero: false };
  const xBins = { field: 'lo', type: 'quantitative', title: null, scale: xScale };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { anchor: 'middle', text: p.title, subtitle: [`ECE ${p.ece.toFixed(4)} · accuracy ${p.accuracy.toFixed(4)} · ${p.examples} examples`, 'bars: accuracy per bin · diamonds: mean confidence'] },
    background: 'white',
    spacing: 6,
    vconcat: [
      {
        name: 'diagram',
        width: WIDTH,
        height: HEIGHT - 90,
        layer: [
          {
            name: 'bins',
            data: { values: bars },
            mark: { type: 'rect', color: '#4c78a8', opacity: 0.8, stroke: 'white' },
            encoding: { x: xBins, x2: { field: 'hi' }, y: { datum: 0, type: 'quantitative', scale: { domain: [0, 1] } }, y2: fraction },
          },
          {
            name: 'gap',
            data: { values: bars },
            mark: { type: 'point', shape: 'diamond', filled: true, color: '#e45756', size: 40 },
            encoding: { x: { field: 'confidence', type: 'quantitative' }, y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] } } },
          },
          {
            name: 'diagonal',
            data: { values: domain.map((c) => ({ c })) },
            mark: { type: 'line', strokeDash: [4, 4], color: '#555555', clip: true },
            encoding: { x: { field: 'c', type: 'quantitative' }, y: { field: 'c', type: 'quantitative' } },
          },
        ],
      },
      {
        name: 'counts',
        width: WIDTH,
        height: 90,
        data: { values: bars },
        layer: [
          {
            name: 'count_bars',
            mark: { type: 'rect', color: '#9e9e9e', stroke: 'white' },
            encoding: {
              x: { ...xBins, title: 'confidence (top class)' },
              x2: { field: 'hi' },
              y: { datum: 0, type: 'quantitative', scale: { type: 'sqrt', domain: [0, Math.ceil(1.4 * maxCount)] }, axis: { tickCount: 3, title: 'examples' } },
              y2: { field: 'count', type: 'quantitative' },
            },
          },
          {
            name: 'count_labels',
            mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 10, color: '#333333' },
            encoding: { x: { field: 'mid', type: 'quantitative' }, y: { field: 'count', type: 'quantitative' }, text: { field: 'count', type: 'quantitative' } },
          },
        ],
      },
    ],
  };
}

/** Renders a vega-lite spec to an SVG document string. */
export async function renderSvg(spec: Json): Promise<string> {
  // Loaded on demand: vega is large and only `plot` needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const vega = require('vega') as typeof import('vega');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const vl = require('vega-lite') as typeof import('vega-lite');
  const compiled = vl.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg.startsWith('<?xml') ? svg : `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`;
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG to PNG with @resvg/resvg-js (an optional dependency). */
export function svgToPng(svg: string): Uint8Array {
  let resvg: typeof import('@resvg/resvg-js');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    resvg = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  } catch {
    throw new PushInputError('PNG output needs the optional package @resvg/resvg-js: install it with `npm install @resvg/resvg-js@2.6.2`, or write an .svg file');
  }
  const r = new resvg.Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 2 } });
  return r.render().asPng();
}

/** An evenly spaced grid over [lo, hi] widened by `widen` x the range on each side. */
export function widenedGrid(lo: number, hi: number, points = 200, widen = 0.5): Float32Array {
  const span = hi - lo || 1;
  const a = lo - widen * span;
  const b = hi + widen * span;
  const grid = new Float32Array(points);
  for (let i = 0; i < points; i++) grid[i] = a + ((b - a) * i) / (points - 1);
  return grid;
}
