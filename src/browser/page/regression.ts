// 1-D regression demo: the data, each member's curve, the BMA mean and a
// ±2 std band over the export's x range; hovering reads out the mean and std
// at that x, predicted there by the posterior itself.
import type { BrowserPosterior } from '../loader';
import { axes, css, fmt, html, linear, svg, Box } from './chart';

const W = 760;
const H = 440;
const BOX: Box = { left: 70, top: 20, width: 560, height: 350 };
const GRID = 200;

export async function mountRegression(root: HTMLElement, posterior: BrowserPosterior): Promise<void> {
  const m = posterior.manifest;
  const demo = m.demo;
  const [lo, hi] = demo.ranges?.[0] ?? [-3, 3];
  const xs = Array.from({ length: GRID }, (_, i) => lo + ((hi - lo) * i) / (GRID - 1));
  const pred = await posterior.predict(xs.map((v) => [v]), { modes: ['mean', 'std', 'pred'], originalUnits: true });
  const mean = pred.mean.data;
  const std = pred.std.data;
  const [, S, out] = pred.pred.shape;
  const member = (n: number, s: number) => pred.pred.data[(n * S + s) * out];

  // y range: the band and the data, padded; member curves are clipped to it.
  const points = demo.points;
  let yLo = Infinity;
  let yHi = -Infinity;
  for (let i = 0; i < GRID; i++) {
    yLo = Math.min(yLo, mean[i] - 2 * std[i]);
    yHi = Math.max(yHi, mean[i] + 2 * std[i]);
  }
  for (const v of points?.y ?? []) (yLo = Math.min(yLo, v)), (yHi = Math.max(yHi, v));
  const pad = 0.08 * (yHi - yLo || 1);
  const x = linear([lo, hi], [BOX.left, BOX.left + BOX.width]);
  const y = linear([yLo - pad, yHi + pad], [BOX.top + BOX.height, BOX.top]);

  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img', 'aria-label': demo.title });
  root.appendChild(chart);
  axes(chart, BOX, x, y, demo.xLabels[0] ?? 'x', demo.yLabel ?? 'y');
  const clip = svg('clipPath', { id: 'plot-area' }, svg('defs', {}, chart));
  svg('rect', { x: BOX.left, y: BOX.top, width: BOX.width, height: BOX.height }, clip);
  const plot = svg('g', { 'clip-path': 'url(#plot-area)' }, chart);

  const upper = xs.map((v, i) => `${x(v).toFixed(1)},${y(mean[i] + 2 * std[i]).toFixed(1)}`);
  const lower = xs.map((v, i) => `${x(v).toFixed(1)},${y(mean[i] - 2 * std[i]).toFixed(1)}`).reverse();
  svg('polygon', { points: [...upper, ...lower].join(' '), class: 'band' }, plot);
  const curveAlpha = Math.max(0.15, Math.min(0.7, 6 / S));
  for (let s = 0; s < S; s++) {
    const hue = (s * 360) / S;
    const d = xs.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(v).toFixed(1)},${y(member(i, s)).toFixed(1)}`).join('');
    svg('path', { d, class: 'member', stroke: `hsla(${hue.toFixed(0)},55%,45%,${curveAlpha.toFixed(2)})` }, plot);
  }
  svg('path', { d: xs.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(v).toFixed(1)},${y(mean[i]).toFixed(1)}`).join(''), class: 'mean' }, plot);
  if (points) {
    points.x.forEach((row, i) => svg('circle', { cx: x(row[0]).toFixed(1), cy: y(points.y[i]).toFixed(1), r: 3, class: points.split[i] === 'test' ? 'point test' : 'point' }, plot));
  }
  legend(chart, S, posterior.algorithm, !!points?.split.includes('test'), !!points);

  // Hover: a real prediction at the cursor's x (the newest request wins).
  const cursor = svg('g', { class: 'cursor', visibility: 'hidden' }, chart);
  const vline = svg('line', { y1: BOX.top, y2: BOX.top + BOX.height, class: 'cursor-line' }, cursor);
  const dot = svg('circle', { r: 4.5, class: 'cursor-dot' }, cursor);
  const readout = html('div', { id: 'readout', class: 'readout', 'aria-live': 'polite' }, root, 'Hover over the chart: the BMA mean and std at that x.');
  let ticket = 0;
  chart.addEventListener('mousemove', async (ev) => {
    const r = chart.getBoundingClientRect();
    const px = ((ev.clientX - r.left) * W) / r.width;
    if (px < BOX.left || px > BOX.left + BOX.width) return;
    const at = x.invert(px);
    const mine = ++ticket;
    const p = await posterior.predict([[at]], { modes: ['mean', 'std'], originalUnits: true });
    if (mine !== ticket) return;
    const mu = p.mean.data[0];
    const sd = p.std.data[0];
    cursor.setAttribute('visibility', 'visible');
    vline.setAttribute('x1', String(x(at)));
    vline.setAttribute('x2', String(x(at)));
    dot.setAttribute('cx', String(x(at)));
    dot.setAttribute('cy', String(y(mu)));
    readout.textContent = `${demo.xLabels[0] ?? 'x'} = ${fmt(at)}   mean = ${fmt(mu, 4)}   std = ${fmt(sd, 3)}   (mean ± 2 std: ${fmt(mu - 2 * sd)} … ${fmt(mu + 2 * sd)})`;
  });
  chart.addEventListener('mouseleave', () => cursor.setAttribute('visibility', 'hidden'));
}

function legend(chart: SVGSVGElement, S: number, algorithm: string, withTest: boolean, withPoints: boolean): void {
  const g = svg('g', { class: 'legend', transform: `translate(${BOX.left + BOX.width + 14}, ${BOX.top + 6})` }, chart);
  const rows: [string, (g: SVGGElement) => void][] = [
    ['BMA mean', (r) => svg('line', { x1: 0, x2: 22, y1: 0, y2: 0, class: 'mean' }, r)],
    ['± 2 std', (r) => svg('rect', { x: 0, y: -6, width: 22, height: 12, class: 'band' }, r)],
    [`${S} member${S === 1 ? '' : 's'}`, (r) => svg('line', { x1: 0, x2: 22, y1: 0, y2: 0, class: 'member', stroke: css([120, 120, 160], 0.8) }, r)],
  ];
  if (withPoints) rows.push(['train data', (r) => svg('circle', { cx: 11, cy: 0, r: 3, class: 'point' }, r)]);
  if (withTest) rows.push(['test data', (r) => svg('circle', { cx: 11, cy: 0, r: 3, class: 'point test' }, r)]);
  rows.forEach(([label, mark], i) => {
    const r = svg('g', { transform: `translate(0, ${i * 22})` }, g);
    mark(r);
    svg('text', { x: 28, y: 4, class: 'legend-label' }, r).textContent = label;
  });
  svg('text', { x: 0, y: rows.length * 22 + 8, class: 'legend-note' }, g).textContent = algorithm;
}
