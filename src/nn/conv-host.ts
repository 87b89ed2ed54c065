// Host (plain JS, Float32Array) kernels for the explicit conv backward pass:
// im2col written transposed, col2im, the max-pool gradient (fused with the
// derivative of the conv activation below it, see maxPoolBackwardInto), average
// pooling. Measured on wasm (perf-notes): tfjs's maxPool gradient takes ~20 ms
// for LeNet's first pool and its conv gradients run at 1-2 GFLOPS; these loops
// do the same work in ~1-2 ms and leave the FLOPs to wasm's kernels.
// All images are NHWC, row-major.

/** Geometry of one conv or pool window over an NHWC batch. */
export interface Window2d {
  batch: number;
  inH: number;
  inW: number;
  channels: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  outH: number;
  outW: number;
  padTop: number;
  padLeft: number;
}

/** tfjs's padding convention ('same': the extra row/column goes at the bottom/right). */
export function windowOf(
  inShape: readonly number[],
  kernel: [number, number],
  strides: [number, number],
  padding: 'same' | 'valid',
): Window2d {
  const [batch, inH, inW, channels] = inShape;
  const [kh, kw] = kernel;
  const [sh, sw] = strides;
  if (padding === 'same') {
    const outH = Math.ceil(inH / sh);
    const outW = Math.ceil(inW / sw);
    const padH = Math.max(0, (outH - 1) * sh + kh - inH);
    const padW = Math.max(0, (outW - 1) * sw + kw - inW);
    return { batch, inH, inW, channels, kh, kw, sh, sw, outH, outW, padTop: Math.floor(padH / 2), padLeft: Math.floor(padW / 2) };
  }
  return { batch, inH, inW, channels, kh, kw, sh, sw, outH: Math.floor((inH - kh) / sh) + 1, outW: Math.floor((inW - kw) / sw) + 1, padTop: 0, padLeft: 0 };
}

/** Valid output columns [lo, hi) for kernel column j: those whose input column lies inside the image. */
function validRange(j: number, pad: number, stride: number, inSize: number, outSize: number): [number, number] {
  // input column = o * stride - pad + j must be in [0, inSize)
  const lo = Math.max(0, Math.ceil((pad - j) / stride));
  const hi = Math.min(outSize, Math.floor((inSize - 1 + pad - j) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/**
 * im2col, transposed: colsT [kh*kw*C, B*outH*outW], row (i*kw + j)*C + c (the order of a
 * tfjs filter [kh, kw, C, outC] flattened to [K, outC]), so filterGrad = colsT @ dy.
 */
export function im2colT(x: Float32Array, g: Window2d): Float32Array {
  const { batch, inH, inW, channels: C, kh, kw, sh, sw, outH, outW, padTop, padLeft } = g;
  const n = batch * outH * outW;
  const out = new Float32Array(kh * kw * C * n);
  for (let i = 0; i < kh; i++) {
    const [yLo, yHi] = validRange(i, padTop, sh, inH, outH);
    for (let j = 0; j < kw; j++) {
      const [xLo, xHi] = validRange(j, padLeft, sw, inW, outW);
      for (let c = 0; c < C; c++) {
        const rowBase = ((i * kw + j) * C + c) * n;
        for (let b = 0; b < batch; b++) {
          for (let oy = yLo; oy < yHi; oy++) {
            const iy = oy * sh - padTop + i;
            const dst = rowBase + (b * outH + oy) * outW;
            const srcRow = (b * inH + iy) * inW;
            const src = (srcRow - padLeft + j) * C + c;
            const step = sw * C;
            for (let ox = xLo, q = src + xLo * step; ox < xHi; ox++, q += step) out[dst + ox] = x[q];
          }
        }
      }
    }
  }
  return out;
}

/** col2im: dx [B, inH, inW, C] from dcols [B*outH*outW, kh*kw*C] (the adjoint of im2col). */
export function col2im(dcols: Float32Array, g: Window2d): Float32Array {
  const { batch, inH, inW, channels: C, kh, kw, sh, sw, outH, outW, padTop, padLeft } = g;
  const K = kh * kw * C;
  const dx = new Float32Array(batch * inH * inW * C);
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const src = ((b * outH + oy) * outW + ox) * K;
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh - padTop + i;
          if (iy < 0 || iy >= inH) continue;
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw - padLeft + j;
            if (ix < 0 || ix >= inW) continue;
            const s = src + (i * kw + j) * C;
            const d = ((b * inH + iy) * inW + ix) * C;
            for (let c = 0; c < C; c++) dx[d + c] += dcols[s + c];
          }
        }
      }
    }
  }
  return dx;
}

/**
 * Gradient of a 'valid' max pool: each output's gradient goes to the first input of its
 * window (in row-major window order, tfjs's choice on ties) that equals the pooled value.
 * The forward pass is tfjs's maxPool (XNNPACK on wasm, ~10x faster than a JS loop, whose
 * compares mispredict).
 */
export function maxPoolBackward(dy: Float32Array, x: Float32Array, pooled: Float32Array, g: Window2d): Float32Array {
  const dx = new Float32Array(x.length);
  maxPoolBackwardInto(dy, x, pooled, g, undefined, { dz: dx });
  return dx;
}

/** Where maxPoolBackwardInto writes the gradient of the conv below the pool. */
export interface PoolGradOut {
  /** [B, inH, inW, C], the pool input's layout. */
  dz?: Float32Array;
  /** [inH, inW, B, C]: the filter of the conv that gives a stride-1 filter gradient. */
  dzT?: Float32Array;
  /** Per-channel sums of the gradient: the conv's bias gradient. */
  sums?: Float64Array;
}

/**
 * maxPoolBackward for a pool right above a conv whose fused activation `act` made the pool's
 * input x: the gradient only reaches each window's argmax, so act'(x) is needed there alone
 * (x at the argmax is the pooled value). Writes the conv's pre-activation gradient in the
 * layouts asked for, and its per-channel sums, in one pass over the pooled outputs.
 */
export function maxPoolBackwardInto(dy: Float32Array, x: Float32Array, pooled: Float32Array, g: Window2d, act: 'relu' | 'sigmoid' | 'elu' | undefined, out: PoolGradOut): void {
  const { dz, dzT } = out;
  const sums = out.sums ?? new Float64Array(g.channels);
  sums.fill(0);
  const kind = act === 'relu' ? RELU : act === 'sigmoid' ? SIGMOID : act === 'elu' ? ELU : LINEAR;
  if (g.kh === 2 && g.kw === 2) {
    if (dz) {
      pool2x2Grad(dy, x, pooled, g, kind, dz, false, sums);
      if (dzT) batchToThird(dz, g.batch, g.inH * g.inW, g.channels, dzT);
    } else if (dzT) {
      pool2x2Grad(dy, x, pooled, g, kind, dzT, true, sums);
    }
    return;
  }
  dz?.fill(0);
  dzT?.fill(0);
  const { batch: B, inH, inW, channels: C, kh, kw, sh, sw, outH, outW } = g;
  const rowStride = inW * C;
  let o = 0;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const base = ((b * inH + oy * sh) * inW + ox * sw) * C;
        for (let c = 0; c < C; c++, o++) {
          const m = pooled[o];
          const v = dy[o] * actScale(kind, m);
          if (v === 0) continue;
          // w: the argmax's place in the window, row-major; -1 if none (NaN).
          let w = -1;
          const k0 = base + c;
          search: for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              if (x[k0 + i * rowStride + j * C] === m) {
                w = i * kw + j;
                break search;
              }
            }
          }
          if (w < 0) continue;
          const i = (w / kw) | 0;
          const j = w - i * kw;
          if (dz) dz[k0 + i * rowStride + j * C] += v;
          if (dzT) dzT[(((oy * sh + i) * inW + ox * sw + j) * B + b) * C + c] += v;
          sums[c] += v;
        }
      }
    }
  }
}

const LINEAR = 0;
const RELU = 1;
const SIGMOID = 2;
const ELU = 3;

/** act'(y) from the activation's output y (0 for relu at y <= 0, and for NaN). */
function actScale(kind: number, y: number): number {
  if (kind === RELU) return +(y > 0);
  if (kind === SIGMOID) return y * (1 - y);
  if (kind === ELU) return y >= 0 ? 1 : y + 1;
  return 1;
}

/**
 * The 2x2 window case of maxPoolBackwardInto, into one layout: out is [B, inH, inW, C], or
 * with transposed [inH, inW, B, C]. The argmax is found without branches
 * (w counts the leading misses): a data-dependent branch there mispredicts about half the
 * time and doubles the loop's cost. If no input equals the pooled value (NaN), the last
 * one gets the gradient.
 */
function pool2x2Grad(dy: Float32Array, x: Float32Array, pooled: Float32Array, g: Window2d, kind: number, out: Float32Array, transposed: boolean, sums: Float64Array): void {
  const { batch: B, inH, inW, channels: C, sh, sw, outH, outW } = g;
  // Windows that tile the input exactly: every element of out is written once, no fill pass.
  const tiles = sh === 2 && sw === 2 && inH === 2 * outH && inW === 2 * outW;
  if (!tiles) out.fill(0);
  const rs = inW * C;
  const BC = B * C;
  // Offsets of the window's four inputs, in x and in out.
  const offX = Int32Array.of(0, C, rs, rs + C);
  const offOut = transposed ? Int32Array.of(0, BC, inW * BC, inW * BC + BC) : offX;
  const [o1, o2, o3] = [offOut[1], offOut[2], offOut[3]];
  // Batch outside for [B, inH, inW, C], inside for the transposed layout: sequential writes.
  const P = outH * outW;
  const [U, V] = transposed ? [P, B] : [B, P];
  for (let u = 0; u < U; u++) {
    for (let v = 0; v < V; v++) {
      const b = transposed ? v : u;
      const p = transposed ? u : v;
      const oy = (p / outW) | 0;
      const ox = p - oy * outW;
      const o0 = ((b * outH + oy) * outW + ox) * C;
      const x0 = ((b * inH + oy * sh) * inW + ox * sw) * C;
      const t0 = transposed ? ((oy * sh * inW + ox * sw) * B + b) * C : x0;
      for (let c = 0; c < C; c++) {
        const m = pooled[o0 + c];
        const val = dy[o0 + c] * actScale(kind, m);
        const k = x0 + c;
        const w = +(x[k] !== m) * (1 + +(x[k + C] !== m) * (1 + +(x[k + rs] !== m)));
        const t = t0 + c;
        if (tiles) {
          out[t] = val * +(w === 0);
          out[t + o1] = val * +(w === 1);
          out[t + o2] = val * +(w === 2);
          out[t + o3] = val * +(w === 3);
        } else {
          out[t + offOut[w]] += val;
        }
        sums[c] += val;
      }
    }
  }
}

/** x [B, P, C] as [P, B, C] (a conv's dz as the filter of its stride-1 filter gradient). */
export function batchToThird(x: Float32Array, B: number, P: number, C: number, out: Float32Array): Float32Array {
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < P; p++) {
      const src = (b * P + p) * C;
      const dst = (p * B + b) * C;
      for (let c = 0; c < C; c++) out[dst + c] = x[src + c];
    }
  }
  return out;
}

/** Average pool ('valid' windows) forward (grad = false) or its gradient (x = dy, grad = true). */
export function avgPool(x: Float32Array, g: Window2d, grad: boolean): Float32Array {
  const { batch, inH, inW, channels: C, kh, kw, sh, sw, outH, outW } = g;
  const scale = 1 / (kh * kw);
  const res = new Float32Array(grad ? batch * inH * inW * C : batch * outH * outW * C);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        for (let c = 0; c < C; c++, o++) {
          let sum = 0;
          const share = grad ? x[o] * scale : 0;
          for (let i = 0; i < kh; i++) {
            const row = (b * inH + oy * sh + i) * inW + ox * sw;
            for (let j = 0; j < kw; j++) {
              const k = (row + j) * C + c;
              if (grad) res[k] += share;
              else sum += x[k];
            }
          }
          if (!grad) res[o] = sum * scale;
        }
      }
    }
  }
  return res;
}

/** [rows, cols] row-major -> [cols, rows]. */
export function transpose2d(a: Float32Array, rows: number, cols: number, out = new Float32Array(rows * cols)): Float32Array {
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = a[base + j];
  }
  return out;
}
