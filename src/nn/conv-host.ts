// Host (plain JS, Float32Array) kernels for the explicit conv backward pass:
// im2col written transposed, col2im, the max-pool gradient, average pooling.
// Measured on wasm (perf-notes): tfjs's maxPool gradient takes ~20 ms for
// LeNet's first pool and its conv gradients run at 1-2 GFLOPS; these loops do
// the same work in ~1 ms and leave the FLOPs to wasm's 2-D matmul.
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
  const { batch: B, inH, inW, channels: C, kh, kw, sh, sw, outH, outW } = g;
  const { dz, dzT, sums } = out;
  dz?.fill(0);
  dzT?.fill(0);
  sums?.fill(0);
  const relu = act === 'relu';
  const two = kh === 2 && kw === 2;
  const rowStride = inW * C;
  let o = 0;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const base = ((b * inH + oy * sh) * inW + ox * sw) * C;
        for (let c = 0; c < C; c++, o++) {
          const d = dy[o];
          const m = pooled[o];
          if (d === 0 || (relu && !(m > 0))) continue;
          // w: the argmax's place in the window, row-major; -1 if none (NaN).
          let w = -1;
          const k0 = base + c;
          if (two) {
            w = x[k0] === m ? 0 : x[k0 + C] === m ? 1 : x[k0 + rowStride] === m ? 2 : x[k0 + rowStride + C] === m ? 3 : -1;
          } else {
            search: for (let i = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++) {
                if (x[k0 + i * rowStride + j * C] === m) {
                  w = i * kw + j;
                  break search;
                }
              }
            }
          }
          if (w < 0) continue;
          const i = (w / kw) | 0;
          const j = w - i * kw;
          const v = act === 'sigmoid' ? d * (m * (1 - m)) : act === 'elu' && !(m >= 0) ? d * (m + 1) : d;
          if (dz) dz[k0 + i * rowStride + j * C] += v;
          if (dzT) dzT[(((oy * sh + i) * inW + ox * sw + j) * B + b) * C + c] += v;
          if (sums) sums[c] += v;
        }
      }
    }
  }
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
