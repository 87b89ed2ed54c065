// 2-D classification demo: a heat map over the inputs' range of the BMA
// probability of a class, or of the mutual information between the label and
// the particles (the epistemic part of the uncertainty), chosen with a
// selector; the data on top; hovering reads out both at the cursor.
import type { BrowserPosterior } from '../loader';
import { axes, colour, colourBar, DIVERGING, VIRIDIS, fmt, html, linear, svg, Box } from './chart';

const W = 760;
const H = 500;
const BOX: Box = { left: 70, top: 20, width: 540, height: 420 };
const CELLS = 90;

export async function mountClassification(root: HTMLElement, posterior: BrowserPosterior): Promise<void> {
  const m = posterior.manifest;
  const demo = m.demo;
  const C = m.outputSize;
  const names = m.classNames ?? Array.from({ length: C }, (_, c) => `class ${c}`);
  const [[x0, x1], [y0, y1]] = demo.ranges ?? [
    [-3, 3],
    [-3, 3],
  ];
  const grid: number[][] = [];
  for (let r = 0; r < CELLS; r++) {
    for (let c = 0; c < CELLS; c++) grid.push([x0 + ((x1 - x0) * (c + 0.5)) / CELLS, y1 - ((y1 - y0) * (r + 0.5)) / CELLS]);
  }
  const pred = await posterior.predict(grid, { modes: ['mean_prob', 'mutual_info'], originalUnits: true });
  const probs = pred.mean_prob.data;
  const mi = pred.mutual_info.data;
  const miMax = Math.max(Math.log(C) / 2, ...Array.from(mi));

  const controls = html('div', { class: 'controls' }, root);
  html('label', { for: 'view' }, controls, 'Show ');
  const select = html('select', { id: 'view' }, controls);
  names.forEach((n, c) => html('option', { value: `p${c}` }, select, `BMA probability of ${n}`));
  html('option', { value: 'mi' }, select, 'mutual information (epistemic uncertainty)');
  select.value = `p${C === 2 ? 1 : 0}`;

  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img', 'aria-label': demo.title });
  root.appendChild(chart);
  const image = svg('image', { x: BOX.left, y: BOX.top, width: BOX.width, height: BOX.height, preserveAspectRatio: 'none' }, chart);
  const x = linear([x0, x1], [BOX.left, BOX.left + BOX.width]);
  const y = linear([y0, y1], [BOX.top + BOX.height, BOX.top]);
  axes(chart, BOX, x, y, demo.xLabels[0] ?? 'x0', demo.xLabels[1] ?? 'x1');
  const bar = svg('g', {}, chart);
  const pts = svg('g', {}, chart);
  const points = demo.points;
  if (points) {
    points.x.forEach((row, i) => {
      const k = points.y[i];
      svg('circle', { cx: x(row[0]).toFixed(1), cy: y(row[1]).toFixed(1), r: 3.2, class: `point class-${k % 6}` }, pts);
    });
  }
  const readout = html('div', { id: 'readout', class: 'readout', 'aria-live': 'polite' }, root, 'Hover over the map: the BMA probabilities and the mutual information there.');

  const canvas = document.createElement('canvas');
  canvas.width = CELLS;
  canvas.height = CELLS;
  const draw = () => {
    const view = select.value;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(CELLS, CELLS);
    const cls = view === 'mi' ? -1 : Number(view.slice(1));
    for (let i = 0; i < CELLS * CELLS; i++) {
      const rgb = cls < 0 ? colour(VIRIDIS, mi[i] / miMax) : colour(DIVERGING, probs[i * C + cls]);
      img.data.set([rgb[0], rgb[1], rgb[2], 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
    image.setAttribute('href', canvas.toDataURL());
    bar.replaceChildren();
    const legendBox = { left: BOX.left + BOX.width + 22, top: BOX.top + 20, width: 16, height: BOX.height - 40 };
    if (cls < 0) colourBar(bar, legendBox, VIRIDIS, 0, miMax, 'mutual information (nats)', 'bar-mi');
    else colourBar(bar, legendBox, DIVERGING, 0, 1, `P(${names[cls]} | x, data)`, `bar-p${cls}`);
  };
  draw();
  select.addEventListener('change', draw);

  let ticket = 0;
  chart.addEventListener('mousemove', async (ev) => {
    const r = chart.getBoundingClientRect();
    const px = ((ev.clientX - r.left) * W) / r.width;
    const py = ((ev.clientY - r.top) * H) / r.height;
    if (px < BOX.left || px > BOX.left + BOX.width || py < BOX.top || py > BOX.top + BOX.height) return;
    const at = [x.invert(px), y.invert(py)];
    const mine = ++ticket;
    const p = await posterior.predict([at], { modes: ['mean_prob', 'mutual_info', 'entropy'], originalUnits: true });
    if (mine !== ticket) return;
    const ps = names.map((n, c) => `P(${n}) = ${fmt(p.mean_prob.data[c], 3)}`).join('   ');
    readout.textContent = `(${fmt(at[0])}, ${fmt(at[1])}):   ${ps}   entropy = ${fmt(p.entropy.data[0], 3)}   mutual information = ${fmt(p.mutual_info.data[0], 3)} nats`;
  });
}
