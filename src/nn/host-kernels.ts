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
  for (let b = 0; b < rows; b++) {
    const dOff = b * n;
    const yOff = b * m;
    for (let j = 0; j < n; j++) {
      const v = y[yOff + j];
      out[dOff + j] = v > 0 ? d[dOff + j] : v - v; // 0, or NaN for a NaN input (as tf.step); one branch
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
