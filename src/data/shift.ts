// Shifted variants of image data, for out-of-distribution tests: an image spec
// followed by "+SHIFT" parts, applied left to right to every split, e.g.
// "mnist:0,2000+rotate:45" or "fashion-mnist:1,500+noise:0.3".
//   rotate:DEG   rotate each image DEG degrees counter-clockwise about its centre
//                (bilinear; what comes from outside the image is 0)
//   noise:SIGMA  add N(0, SIGMA²) to each value, seeded, clipped to the range of the
//                unshifted data (for images, [0, 1])
//   blank        every value 0 (labels kept)

import { PushInputError } from '../util/errors';
import { Rng, deriveSeed } from '../util/rng';
import { Dataset } from './dataset';

export type Shift = { kind: 'rotate'; degrees: number } | { kind: 'noise'; sigma: number } | { kind: 'blank' };

export const SHIFT_FORMS = 'rotate:DEG, noise:SIGMA, blank';
const MAX_NOISE_SIGMA = 1000;
const SHIFT_SUFFIX = /\+(rotate|noise|blank)(?::([^+]*))?$/;
const NOISE_STREAM = 0x6e6f6973; // "nois"

/**
 * Splits trailing "+rotate:DEG", "+noise:SIGMA" and "+blank" parts off a spec.
 * Returns the base spec and the shifts in the order written.
 */
export function splitShifts(text: string): { base: string; shifts: Shift[] } {
  const shifts: Shift[] = [];
  let base = text;
  for (let m = SHIFT_SUFFIX.exec(base); m !== null; m = SHIFT_SUFFIX.exec(base)) {
    shifts.unshift(parseShift(text, m[1], m[2]));
    base = base.slice(0, m.index);
  }
  return { base, shifts };
}

function parseShift(text: string, kind: string, param: string | undefined): Shift {
  const bad = (problem: string) => new PushInputError(`data spec ${JSON.stringify(text)}: ${problem}; shifts are ${SHIFT_FORMS}`);
  const num = param !== undefined && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(param.trim()) ? Number(param) : NaN;
  switch (kind) {
    case 'rotate':
      if (!Number.isFinite(num)) throw bad(`rotate needs an angle in degrees, got ${JSON.stringify(param ?? '')}`);
      return { kind, degrees: num };
    case 'noise':
      if (!(num >= 0 && num <= MAX_NOISE_SIGMA)) throw bad(`noise needs SIGMA in [0, ${MAX_NOISE_SIGMA}], got ${JSON.stringify(param ?? '')}`);
      return { kind, sigma: num };
    default:
      if (param !== undefined) throw bad('blank takes no parameter');
      return { kind: 'blank' };
  }
}

/** The text form of shifts, e.g. "+rotate:45+blank". */
export function describeShifts(shifts: readonly Shift[]): string {
  return shifts.map((s) => (s.kind === 'rotate' ? `+rotate:${s.degrees}` : s.kind === 'noise' ? `+noise:${s.sigma}` : '+blank')).join('');
}

/**
 * `ds` with its inputs shifted. `seed` seeds the noise (with `part` telling
 * splits apart, so train and test get different noise).
 */
export function applyShifts(ds: Dataset, shifts: readonly Shift[], seed: number, part: number): Dataset {
  if (shifts.length === 0) return ds;
  let x = ds.x;
  const range = valueRange(ds.x);
  shifts.forEach((shift, i) => {
    if (shift.kind === 'rotate') x = rotateImages(x, ds.xShape, shift.degrees, ds.name);
    else if (shift.kind === 'blank') x = new Float32Array(x.length);
    else x = addNoise(x, shift.sigma, new Rng(deriveSeed(seed, NOISE_STREAM, part, i)), range);
  });
  return { ...ds, x };
}

/**
 * Rotates each image of x [N, H, W, C] by `degrees` counter-clockwise (as displayed,
 * row 0 at the top) about the image centre ((H-1)/2, (W-1)/2), by bilinear sampling
 * of the source; source points outside the image read as 0.
 */
export function rotateImages(x: Float32Array, shape: readonly number[], degrees: number, name = 'data'): Float32Array {
  if (shape.length !== 4) throw new PushInputError(`rotate needs images [N, H, W, C]: ${JSON.stringify(name)} has inputs [${shape.join(', ')}]`);
  const [N, H, W, C] = shape;
  const out = new Float32Array(x.length);
  const theta = (degrees * Math.PI) / 180;
  // Exact for multiples of 90°, so rotate:90 four times is the identity.
  const quarter = degrees % 90 === 0;
  const cos = quarter ? Math.round(Math.cos(theta)) : Math.cos(theta);
  const sin = quarter ? Math.round(Math.sin(theta)) : Math.sin(theta);
  const cy = (H - 1) / 2;
  const cx = (W - 1) / 2;
  const image = H * W * C;
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      // Output point (dx right, dy up) comes from the source point rotated back by -theta.
      const dx = c - cx;
      const dy = cy - r;
      const sx = cos * dx + sin * dy;
      const sy = -sin * dx + cos * dy;
      const srcC = cx + sx;
      const srcR = cy - sy;
      const r0 = Math.floor(srcR);
      const c0 = Math.floor(srcC);
      const fr = srcR - r0;
      const fc = srcC - c0;
      for (let n = 0; n < N; n++) {
        const base = n * image;
        for (let ch = 0; ch < C; ch++) {
          const at = (rr: number, cc: number) => (rr >= 0 && rr < H && cc >= 0 && cc < W ? x[base + (rr * W + cc) * C + ch] : 0);
          const v =
            (1 - fr) * ((1 - fc) * at(r0, c0) + (fc > 0 ? fc * at(r0, c0 + 1) : 0)) +
            (fr > 0 ? fr * ((1 - fc) * at(r0 + 1, c0) + (fc > 0 ? fc * at(r0 + 1, c0 + 1) : 0)) : 0);
          out[base + (r * W + c) * C + ch] = v;
        }
      }
    }
  }
  return out;
}

function valueRange(x: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** x + N(0, sigma²) per value, clipped to `range` (default [min x, max x]). */
export function addNoise(x: Float32Array, sigma: number, rng: Rng, range = valueRange(x)): Float32Array {
  const [lo, hi] = range;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.min(hi, Math.max(lo, x[i] + sigma * rng.normal()));
  return out;
}
