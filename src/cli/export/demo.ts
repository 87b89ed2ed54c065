// What the exported page shows, chosen by task and input shape: 1-D
// regression (one input, one target), 2-D classification (two inputs), images
// (28×28×1, MNIST-like), or a plain page for anything else; with the data
// points and the axis ranges, in the data's original units.
import type { Dataset } from '../../data/dataset';
import type { DemoData } from '../../browser/format';
import type { CheckpointInfo } from '../engine';
import type { StoredData } from '../data';

/** Points drawn on the page at most (the manifest carries them). */
export const MAX_DEMO_POINTS = 1500;

export interface DemoChoice {
  demo: DemoData;
  /** Inputs (original units) to measure float16's effect on, when the data is known. */
  probes?: { x: Float32Array; xShape: number[] };
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function demoKind(info: CheckpointInfo): DemoData['kind'] {
  const p = info.info;
  const inputs = prod(p.inputShape);
  const targets = p.gaussian ? p.outputSize / 2 : p.outputSize;
  if (p.task === 'regression' && inputs === 1 && targets === 1) return 'regression-1d';
  if (p.task === 'classification' && inputs === 2 && p.outputSize >= 2) return 'classification-2d';
  if (p.task === 'classification' && inputs === 28 * 28 && (p.inputShape.length === 1 || p.inputShape[p.inputShape.length - 1] === 1 || p.inputShape.length === 2)) return 'image';
  return 'generic';
}

/** The demo of a checkpoint; `data` is its data (train and test, original units) when known. */
export function buildDemo(info: CheckpointInfo, stored: StoredData | undefined, data: { train: Dataset; test?: Dataset } | undefined): DemoChoice {
  const kind = demoKind(info);
  const spec = stored?.spec ?? info.info.data?.name;
  const title = `${spec ? `${spec}: ` : ''}${info.algo}, ${info.particles} particles`;
  const featureNames = data?.train.featureNames ?? stored?.featureNames;
  const inputs = prod(info.info.inputShape);
  const xLabels = Array.from({ length: Math.min(inputs, 2) }, (_, j) => featureNames?.[j] ?? (inputs === 1 ? 'x' : `x${j}`));
  const demo: DemoData = { kind, title, xLabels };
  if (info.task === 'regression') demo.yLabel = data?.train.targetName ?? stored?.targetName ?? 'y';
  if (!data) return { demo };
  const all = [data.train, ...(data.test ? [data.test] : [])];
  const probes = probeRows(all, 256);
  if (kind !== 'regression-1d' && kind !== 'classification-2d') return { demo, probes };
  const d = kind === 'regression-1d' ? 1 : 2;
  const rows: number[][] = [];
  const ys: number[] = [];
  const split: ('train' | 'test')[] = [];
  all.forEach((ds, i) => {
    const n = ds.xShape[0];
    // An even stride keeps the picture's shape when the data set is large.
    const step = Math.max(1, Math.ceil((n * all.length) / MAX_DEMO_POINTS));
    for (let r = 0; r < n; r += step) {
      rows.push(Array.from(ds.x.subarray(r * d, (r + 1) * d)));
      ys.push(ds.y[r]);
      split.push(i === 0 ? 'train' : 'test');
    }
  });
  demo.points = { x: rows, y: ys, split };
  // The range of the data, widened so the page shows how uncertainty grows away from it.
  const widen = kind === 'regression-1d' ? 0.5 : 0.15;
  demo.ranges = Array.from({ length: d }, (_, j) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rows) (lo = Math.min(lo, r[j])), (hi = Math.max(hi, r[j]));
    const span = hi - lo || 1;
    return [lo - widen * span, hi + widen * span] as [number, number];
  });
  return { demo, probes };
}

function probeRows(sets: readonly Dataset[], max: number): { x: Float32Array; xShape: number[] } {
  const ds = sets[sets.length - 1];
  const n = Math.min(ds.xShape[0], max);
  const row = prod(ds.xShape.slice(1));
  return { x: ds.x.slice(0, n * row), xShape: [n, ...ds.xShape.slice(1)] };
}
