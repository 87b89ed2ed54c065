// Image demo (MNIST-like, 28×28×1): draw a digit with the mouse, pen or a
// finger; as you draw, the drawing is fitted into the model's 28×28 input the
// way MNIST digits were (a 20×20 box, centred on its centre of mass) and the
// page shows the BMA probability of every class, the predictive entropy and
// the mutual information.
import type { BrowserPosterior } from '../loader';
import { html } from './chart';

const SIDE = 28;
const CANVAS = 280;
const BRUSH = 20;
const BOX = 20;

export async function mountDigits(root: HTMLElement, posterior: BrowserPosterior): Promise<void> {
  const m = posterior.manifest;
  const C = m.outputSize;
  const names = m.classNames ?? Array.from({ length: C }, (_, c) => String(c));
  const wrap = html('div', { class: 'digits' }, root);
  const left = html('div', { class: 'pad' }, wrap);
  const canvas = html('canvas', { id: 'pad', width: String(CANVAS), height: String(CANVAS), 'aria-label': 'drawing area: draw a digit' }, left);
  const tools = html('div', { class: 'tools' }, left);
  const clear = html('button', { type: 'button', id: 'clear' }, tools, 'Clear');
  html('span', { class: 'hint' }, tools, 'model input:');
  const preview = html('canvas', { id: 'model-input', width: String(SIDE), height: String(SIDE), title: 'what the model sees (28×28)' }, tools);
  const right = html('div', { class: 'bars' }, wrap);
  const rows = names.map((n) => {
    const row = html('div', { class: 'bar-row' }, right);
    html('span', { class: 'bar-name' }, row, n);
    const track = html('span', { class: 'bar-track' }, row);
    const fill = html('span', { class: 'bar-fill' }, track);
    const value = html('span', { class: 'bar-value' }, row, '–');
    return { row, fill, value };
  });
  const stats = html('div', { class: 'stats' }, right);
  const entropyEl = html('div', { id: 'entropy' }, stats);
  const miEl = html('div', { id: 'mutual-info' }, stats);
  const verdict = html('div', { id: 'verdict', class: 'verdict' }, right, 'Draw a digit in the black square.');

  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const reset = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, CANVAS, CANVAS);
  };
  reset();

  // data-drawn counts strokes, data-shown the strokes the bars show: equal once the page has caught up.
  let drawn = 0;
  let ticket = 0;
  let scheduled = false;
  const update = async () => {
    scheduled = false;
    const upTo = drawn;
    const input = modelInput(ctx);
    drawPreview(preview, input);
    const mine = ++ticket;
    if (!input.some((v) => v > 0)) {
      rows.forEach((r) => ((r.fill.style.width = '0'), (r.value.textContent = '–'), r.row.classList.remove('top')));
      entropyEl.textContent = miEl.textContent = '';
      verdict.textContent = 'Draw a digit in the black square.';
      wrap.dataset.shown = String(upTo);
      return;
    }
    const p = await posterior.predict({ x: input, xShape: [1, ...m.inputShape] }, { modes: ['mean_prob', 'entropy', 'mutual_info'] });
    if (mine !== ticket) return;
    const probs = p.mean_prob.data;
    let top = 0;
    for (let c = 1; c < C; c++) if (probs[c] > probs[top]) top = c;
    rows.forEach((r, c) => {
      r.fill.style.width = `${(100 * probs[c]).toFixed(1)}%`;
      r.value.textContent = probs[c] < 0.001 ? '<0.001' : probs[c].toFixed(3);
      r.row.classList.toggle('top', c === top);
    });
    const maxH = Math.log(C);
    entropyEl.textContent = `predictive entropy ${p.entropy.data[0].toFixed(3)} nats (max ${maxH.toFixed(3)})`;
    miEl.textContent = `mutual information ${p.mutual_info.data[0].toFixed(3)} nats (its epistemic part)`;
    verdict.textContent = `BMA: ${names[top]} with probability ${probs[top].toFixed(3)}`;
    verdict.dataset.top = names[top];
    wrap.dataset.shown = String(upTo);
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => void update());
  };

  // Strokes: round lines between successive pointer positions, white on black like MNIST.
  let last: [number, number] | null = null;
  const at = (ev: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((ev.clientX - r.left) * CANVAS) / r.width, ((ev.clientY - r.top) * CANVAS) / r.height];
  };
  const stroke = (from: [number, number], to: [number, number]) => {
    wrap.dataset.drawn = String(++drawn);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = BRUSH;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  };
  canvas.addEventListener('pointerdown', (ev) => {
    try {
      canvas.setPointerCapture(ev.pointerId); // keep the stroke when the pointer leaves the pad
    } catch {
      /* a synthetic pointer cannot be captured */
    }
    last = at(ev);
    stroke(last, last);
    schedule();
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!last) return;
    const p = at(ev);
    stroke(last, p);
    last = p;
    schedule();
  });
  const end = () => {
    last = null;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  clear.addEventListener('click', () => {
    reset();
    wrap.dataset.drawn = String(++drawn);
    schedule();
  });
  await update();
}

/**
 * The drawing as a 28×28 input in [0, 1]: its ink's bounding box scaled into a 20×20 box
 * (area-averaged), then shifted so the centre of mass sits at the centre, as MNIST was made.
 */
export function modelInput(ctx: CanvasRenderingContext2D): Float32Array {
  const { data } = ctx.getImageData(0, 0, CANVAS, CANVAS);
  const ink = new Float32Array(CANVAS * CANVAS);
  let x0 = CANVAS;
  let y0 = CANVAS;
  let x1 = -1;
  let y1 = -1;
  for (let i = 0; i < ink.length; i++) {
    const v = data[i * 4] / 255;
    ink[i] = v;
    if (v > 0.05) {
      const px = i % CANVAS;
      const py = (i - px) / CANVAS;
      x0 = Math.min(x0, px);
      x1 = Math.max(x1, px);
      y0 = Math.min(y0, py);
      y1 = Math.max(y1, py);
    }
  }
  const out = new Float32Array(SIDE * SIDE);
  if (x1 < 0) return out;
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const s = BOX / Math.max(w, h); // output pixels per canvas pixel
  const ox = (SIDE - w * s) / 2;
  const oy = (SIDE - h * s) / 2;
  const K = 6; // sub-samples per output pixel and axis
  const scaled = new Float32Array(SIDE * SIDE);
  for (let r = 0; r < SIDE; r++) {
    for (let c = 0; c < SIDE; c++) {
      let acc = 0;
      for (let a = 0; a < K; a++) {
        const sy = Math.floor(y0 + (r - oy + (a + 0.5) / K) / s);
        if (sy < y0 || sy > y1) continue;
        for (let b = 0; b < K; b++) {
          const sx = Math.floor(x0 + (c - ox + (b + 0.5) / K) / s);
          if (sx >= x0 && sx <= x1) acc += ink[sy * CANVAS + sx];
        }
      }
      scaled[r * SIDE + c] = acc / (K * K);
    }
  }
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let r = 0; r < SIDE; r++) {
    for (let c = 0; c < SIDE; c++) {
      const v = scaled[r * SIDE + c];
      mass += v;
      mx += v * c;
      my += v * r;
    }
  }
  const dx = Math.round((SIDE - 1) / 2 - mx / mass);
  const dy = Math.round((SIDE - 1) / 2 - my / mass);
  for (let r = 0; r < SIDE; r++) {
    for (let c = 0; c < SIDE; c++) {
      const sr = r - dy;
      const sc = c - dx;
      if (sr >= 0 && sr < SIDE && sc >= 0 && sc < SIDE) out[r * SIDE + c] = Math.min(1, scaled[sr * SIDE + sc]);
    }
  }
  return out;
}

function drawPreview(canvas: HTMLCanvasElement, input: Float32Array): void {
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < input.length; i++) {
    const v = Math.round(255 * input[i]);
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
}
