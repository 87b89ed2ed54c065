// Two small kernels for the dense path, written in JavaScript over the
// backend's own memory (wasm's heap, the cpu backend's arrays), registered as
// tfjs kernels so tensors stay tracked and tidy-able:
//   PushReluGrad   d * (y > 0), where y may have more columns than d (the
//                  bias-folded layout's ones column): one kernel instead of
//                  Step + Multiply (+ a slice);
//   PushTranspose  [1, R, C] -> [1, C, R].
// On the seed network's [128, 21] operands each is about 3 µs of CPU against
// 6 µs for Step + Multiply and 6 µs for wasm's Transpose (bench/small-net.ts).
// Other backends (tensorflow) get the same results from tfjs ops.
import { tf } from '../util/tf';

type Info = { dataId: object; shape: number[]; dtype: tf.DataType };
interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}
interface CpuLike {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): Info;
}

const RELU_GRAD = 'PushReluGrad';
const TRANSPOSE = 'PushTranspose';
const HOST_BACKENDS = ['wasm', 'cpu'];

function reluGradInto(out: Float32Array, d: Float32Array, y: Float32Array, rows: number, n: number, m: number): void {
  for (let b = 0; b < rows; b++) {
    const dOff = b * n;
    const yOff = b * m;
    for (let j = 0; j < n; j++) out[dOff + j] = y[yOff + j] > 0 ? d[dOff + j] : 0;
  }
}

function transposeInto(out: Float32Array, x: Float32Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    const src = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = x[src + j];
  }
}

let registered = false;

/** The backend's float32 values of t: a view into wasm's heap (take it after any allocation), or cpu's array. */
function valuesOf(backend: unknown, t: Info, wasm: boolean): Float32Array {
  return wasm ? (backend as WasmLike).typedArrayFromHeap(t) : (backend as CpuLike).data.get(t.dataId).values;
}

/** A new float32 output of `shape` and its writable values. */
function output(backend: unknown, shape: number[], wasm: boolean): { info: Info; values: Float32Array } {
  if (wasm) {
    const info = (backend as WasmLike).makeOutput(shape, 'float32');
    return { info, values: (backend as WasmLike).typedArrayFromHeap(info) };
  }
  const values = new Float32Array(shape[0] * shape[1] * shape[2]);
  return { info: (backend as CpuLike).makeTensorInfo(shape, 'float32', values), values };
}

function register(): void {
  if (registered) return;
  registered = true;
  for (const backendName of HOST_BACKENDS) {
    const wasm = backendName === 'wasm';
    if (!tf.getKernel(RELU_GRAD, backendName)) {
      tf.registerKernel({
        kernelName: RELU_GRAD,
        backendName,
        kernelFunc: ({ inputs, backend }) => {
          const d = inputs.d as unknown as Info;
          const y = inputs.y as unknown as Info;
          const out = output(backend, d.shape, wasm);
          reluGradInto(out.values, valuesOf(backend, d, wasm), valuesOf(backend, y, wasm), d.shape[1], d.shape[2], y.shape[2]);
          return out.info as unknown as tf.TensorInfo;
        },
      });
    }
    if (!tf.getKernel(TRANSPOSE, backendName)) {
      tf.registerKernel({
        kernelName: TRANSPOSE,
        backendName,
        kernelFunc: ({ inputs, backend }) => {
          const x = inputs.x as unknown as Info;
          const [, rows, cols] = x.shape;
          const out = output(backend, [1, cols, rows], wasm);
          transposeInto(out.values, valuesOf(backend, x, wasm), rows, cols);
          return out.info as unknown as tf.TensorInfo;
        },
      });
    }
  }
}

function onHostBackend(): boolean {
  register();
  return HOST_BACKENDS.includes(tf.getBackend());
}

/** d [1, B, n] times the ReLU mask of y [1, B, m >= n] (its first n columns). */
export function reluGrad(d: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (onHostBackend()) return tf.engine().runKernel(RELU_GRAD, { d, y }) as tf.Tensor;
  const n = d.shape[2] as number;
  const mask = tf.step(y.shape[2] === n ? y : tf.slice(y, [0, 0, 0], [1, y.shape[1] as number, n]));
  return tf.mul(d, mask);
}

/** x [1, R, C] transposed to [1, C, R]. */
export function transpose3(x: tf.Tensor): tf.Tensor {
  if (onHostBackend()) return tf.engine().runKernel(TRANSPOSE, { x }) as tf.Tensor;
  return tf.transpose(x, [0, 2, 1]);
}
