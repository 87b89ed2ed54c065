// The ReLU gradient d * (y > 0) as ONE kernel (PushReluGrad), written in
// JavaScript over the backend's own memory (wasm's heap, the cpu backend's
// arrays) and registered as a tfjs kernel so its output stays tracked. y may
// have more columns than d (the bias-folded layout's ones column, see
// dense-folded.ts): tfjs would need Step + Multiply + a slice. Other backends
// (tensorflow) get the same result from tfjs ops.
import { tf } from '../util/tf';

/** What a kernel reads and returns: a tensor's data id, shape and dtype. */
export type Info = { dataId: object; shape: number[]; dtype: tf.DataType };
interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}
interface CpuLike {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): Info;
}

const RELU_GRAD = 'PushReluGrad';
const HOST_BACKENDS = ['wasm', 'cpu'];

function reluGradInto(out: Float32Array, d: Float32Array, y: Float32Array, rows: number, n: number, m: number): void {
  // d * ((y > 0) | 0) compiles without a branch: ReLU masks are random, and the branch
  // mispredicted about half the time (0.13 ms against 0.08 ms at [128, 256]). A NaN in y
  // must give NaN (as tf.step does): it is flagged for free and the rare case redone.
  let nan = 0;
  for (let b = 0; b < rows; b++) {
    const dOff = b * n;
    const yOff = b * m;
    for (let j = 0; j < n; j++) {
      const v = y[yOff + j];
      nan |= (v !== v) as unknown as number;
      out[dOff + j] = d[dOff + j] * ((v > 0) as unknown as number);
    }
  }
  if (nan) reluGradExact(out, d, y, rows, n, m);
}

/** d * step(y) element by element, NaN for a NaN in y: the slow path of inputs with NaNs. */
function reluGradExact(out: Float32Array, d: Float32Array, y: Float32Array, rows: number, n: number, m: number): void {
  for (let b = 0; b < rows; b++) {
    for (let j = 0; j < n; j++) {
      const v = y[b * m + j];
      out[b * n + j] = v !== v ? v : d[b * n + j] * (v > 0 ? 1 : 0);
    }
  }
}

/** The backend's float32 values of t: a view into wasm's heap (take it after any allocation), or cpu's array. */
function valuesOf(backend: unknown, t: Info, wasm: boolean): Float32Array {
  return wasm ? (backend as WasmLike).typedArrayFromHeap(t) : (backend as CpuLike).data.get(t.dataId).values;
}

/** d [1, B, n] times the ReLU mask of y [1, B, m >= n]: the kernel's body, for callers that run wasm or cpu kernels without the engine. */
export function reluGradKernel(backend: unknown, d: Info, y: Info): Info {
  const wasm = typeof (backend as Partial<WasmLike>).typedArrayFromHeap === 'function';
  let info: Info;
  let out: Float32Array;
  if (wasm) {
    info = (backend as WasmLike).makeOutput(d.shape, 'float32');
    out = (backend as WasmLike).typedArrayFromHeap(info); // after the allocation, which may grow the heap
  } else {
    out = new Float32Array(d.shape[0] * d.shape[1] * d.shape[2]);
    info = (backend as CpuLike).makeTensorInfo(d.shape, 'float32', out);
  }
  reluGradInto(out, valuesOf(backend, d, wasm), valuesOf(backend, y, wasm), d.shape[1], d.shape[2], y.shape[2]);
  return info;
}

/**
 * The bias gradient fused into the ReLU gradient's pass: d * (y > 0) (or d itself when y is
 * null) and its column sums, added in float64 and stored at sums[offset..] (the layout's bias
 * block of the gradient row). d [1, B, n], y [1, B, m >= n]. `transposed`: d and y are [1, n, B]
 * (a transposed backward pass) and the sums run along each row instead. Returns d's replacement (d itself when y is null).
 */
export function reluGradSumKernel(backend: unknown, d: Info, y: Info | null, sums: Float32Array, offset: number, transposed = false): Info {
  const wasm = typeof (backend as Partial<WasmLike>).typedArrayFromHeap === 'function';
  const rows = d.shape[1];
  const n = d.shape[2];
  let info = d;
  let out: Float32Array | null = null;
  if (y) {
    if (wasm) {
      info = (backend as WasmLike).makeOutput(d.shape, 'float32');
      out = (backend as WasmLike).typedArrayFromHeap(info);
    } else {
      out = new Float32Array(rows * n);
      info = (backend as CpuLike).makeTensorInfo(d.shape, 'float32', out);
    }
  }
  const dv = valuesOf(backend, d, wasm);
  const yv = y ? valuesOf(backend, y, wasm) : null;
  const m = y ? y.shape[2] : n;
  if (transposed) {
    if (out && yv) reluGradInto(out, dv, yv, rows, n, m);
    const g = out ?? dv;
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = r * n, end = j + n; j < end; j++) sum += g[j];
      sums[offset + r] = sum;
    }
    return info;
  }
  let acc = columnScratch(n);
  if (out && yv) {
    let nan = 0;
    for (let b = 0; b < rows; b++) {
      const off = b * n;
      const yOff = b * m;
      for (let j = 0; j < n; j++) {
        const v = yv[yOff + j];
        nan |= (v !== v) as unknown as number; // as reluGradInto
        const g = dv[off + j] * ((v > 0) as unknown as number);
        out[off + j] = g;
        acc[j] += g;
      }
    }
    if (nan) {
      reluGradExact(out, dv, yv, rows, n, m);
      acc = columnScratch(n);
      for (let b = 0; b < rows; b++) for (let j = 0; j < n; j++) acc[j] += out[b * n + j];
    }
  } else {
    for (let b = 0; b < rows; b++) {
      const off = b * n;
      for (let j = 0; j < n; j++) acc[j] += dv[off + j];
    }
  }
  for (let j = 0; j < n; j++) sums[offset + j] = acc[j];
  return info;
}

let columns = new Float64Array(0);
/** A zeroed float64 scratch of n column sums. */
function columnScratch(n: number): Float64Array {
  if (columns.length < n) columns = new Float64Array(n);
  const acc = columns.subarray(0, n);
  acc.fill(0);
  return acc;
}

let registered = false;

function onHostBackend(): boolean {
  if (!registered) {
    registered = true;
    for (const backendName of HOST_BACKENDS) {
      if (tf.getKernel(RELU_GRAD, backendName)) continue;
      tf.registerKernel({
        kernelName: RELU_GRAD,
        backendName,
        kernelFunc: ({ inputs, backend }) => reluGradKernel(backend, inputs.d as unknown as Info, inputs.y as unknown as Info) as unknown as tf.TensorInfo,
      });
    }
  }
  return HOST_BACKENDS.includes(tf.getBackend());
}

/** d [1, B, n] times the ReLU mask of y [1, B, m >= n] (its first n columns). */
export function reluGrad(d: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (onHostBackend()) return tf.engine().runKernel(RELU_GRAD, { d, y }) as tf.Tensor;
  const n = d.shape[2] as number;
  const mask = tf.step(y.shape[2] === n ? y : tf.slice(y, [0, 0, 0], [1, y.shape[1] as number, n]));
  return tf.mul(d, mask);
}
