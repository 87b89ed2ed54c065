// Small SVG chart pieces for the demo pages: elements, linear scales with
// round ticks, labelled axes and colour maps.

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, parent?: Element): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

export function html<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, parent?: Element, text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  if (parent) parent.appendChild(el);
  return el;
}

export interface Scale {
  (v: number): number;
  invert(px: number): number;
  domain: [number, number];
  range: [number, number];
}

export function linear(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const k = (r1 - r0) / (d1 - d0 || 1);
  const f = ((v: number) => r0 + (v - d0) * k) as Scale;
  f.invert = (px: number) => d0 + (px - r0) / k;
  f.domain = domain;
  f.range = range;
  return f;
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function fmt(v: number, digits = 3): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return Number(v.toPrecision(digits)).toString();
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A bottom and a left axis with ticks, grid lines and labels. */
export function axes(root: SVGElement, box: Box, x: Scale, y: Scale, xLabel: string, yLabel: string): void {
  const g = svg('g', { class: 'axes' }, root);
  const bottom = box.top + box.height;
  for (const t of ticks(x.domain[0], x.domain[1], 8)) {
    const px = x(t);
    svg('line', { x1: px, x2: px, y1: box.top, y2: bottom, class: 'grid' }, g);
    svg('line', { x1: px, x2: px, y1: bottom, y2: bottom + 5, class: 'tick' }, g);
    svg('text', { x: px, y: bottom + 18, 'text-anchor': 'middle', class: 'tick-label' }, g).textContent = fmt(t);
  }
  for (const t of ticks(y.domain[0], y.domain[1], 6)) {
    const py = y(t);
    svg('line', { x1: box.left, x2: box.left + box.width, y1: py, y2: py, class: 'grid' }, g);
    svg('line', { x1: box.left - 5, x2: box.left, y1: py, y2: py, class: 'tick' }, g);
    svg('text', { x: box.left - 8, y: py + 4, 'text-anchor': 'end', class: 'tick-label' }, g).textContent = fmt(t);
  }
  svg('rect', { x: box.left, y: box.top, width: box.width, height: box.height, class: 'frame' }, g);
  svg('text', { x: box.left + box.width / 2, y: bottom + 40, 'text-anchor': 'middle', class: 'axis-label' }, g).textContent = xLabel;
  const yl = svg('text', { x: 0, y: 0, 'text-anchor': 'middle', class: 'axis-label', transform: `translate(${box.left - 48}, ${box.top + box.height / 2}) rotate(-90)` }, g);
  yl.textContent = yLabel;
}

export type Rgb = [number, number, number];

function lerpStops(stops: readonly Rgb[], t: number): Rgb {
  const u = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(u), stops.length - 2);
  const f = u - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** Blue - white - red, for a probability (0.5 is white). */
export const DIVERGING: readonly Rgb[] = [
  [33, 102, 172],
  [103, 169, 207],
  [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199],
  [239, 138, 98],
  [178, 24, 43],
];
/** Viridis, for uncertainty (dark = certain). */
export const VIRIDIS: readonly Rgb[] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

export function colour(stops: readonly Rgb[], t: number): Rgb {
  return lerpStops(stops, t);
}

export function css([r, g, b]: Rgb, alpha = 1): string {
  return alpha === 1 ? `rgb(${r | 0},${g | 0},${b | 0})` : `rgba(${r | 0},${g | 0},${b | 0},${alpha})`;
}

/** A vertical colour bar with ticks, for a heat map's legend. */
export function colourBar(root: SVGElement, box: Box, stops: readonly Rgb[], lo: number, hi: number, label: string, id: string): void {
  const defs = svg('defs', {}, root);
  const grad = svg('linearGradient', { id, x1: 0, y1: 1, x2: 0, y2: 0 }, defs);
  for (let i = 0; i <= 20; i++) svg('stop', { offset: `${i * 5}%`, 'stop-color': css(colour(stops, i / 20)) }, grad);
  svg('rect', { x: box.left, y: box.top, width: box.width, height: box.height, fill: `url(#${id})`, stroke: '#444' }, root);
  const y = linear([lo, hi], [box.top + box.height, box.top]);
  for (const t of ticks(lo, hi, 5)) {
    svg('line', { x1: box.left + box.width, x2: box.left + box.width + 4, y1: y(t), y2: y(t), class: 'tick' }, root);
    svg('text', { x: box.left + box.width + 7, y: y(t) + 4, class: 'tick-label' }, root).textContent = fmt(t);
  }
  const l = svg('text', { x: 0, y: 0, 'text-anchor': 'middle', class: 'axis-label', transform: `translate(${box.left + box.width + 50}, ${box.top + box.height / 2}) rotate(90)` }, root);
  l.textContent = label;
}
