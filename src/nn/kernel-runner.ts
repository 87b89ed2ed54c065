// The handful of kernels the bias-folded dense pass (dense-folded.ts) runs,
// behind one interface with three implementations, cheapest first:
//   raw wasm    the wasm module's exported _FusedMatMul and Transpose called
//               directly, with the shapes written once into a scratch slot of
//               wasm's heap (tfjs-backend-wasm 4.22's C signatures; any other
//               version falls back to the next one);
//   direct      the backend's kernel functions without the engine (wasm, cpu);
//   engine      tfjs ops (any backend, e.g. tensorflow).
// Measured on [128, 21] x [21, 21] (bench/small-net.ts): the engine adds about
// 1-2 µs per kernel (lookup, scopes, tensor tracking) and tfjs-wasm's kernel
// JavaScript (reshapes, shape arrays, ccall) another 3 µs per matMul and 3.5 µs
// per transpose, against 3-6 µs of XNNPACK work: on the seed network that is
// about a third of a particle-step. All three give the same numbers: the same
// XNNPACK and backend code runs underneath.
import * as tfWasm from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../util/tf';
import { Info, reluGrad, reluGradKernel, reluGradSumKernel } from './host-kernels';
import { HeapKernelExports, heapKernels } from './wasm/heap-kernels';

export type { Info };

export interface Runner {
  upload(values: Float32Array, shape: number[]): Info;
  /** a @ b ([1, M, K] x [1, K, N]), with a fused activation unless null. */
  matMul(a: Info, b: Info, activation: 'relu' | 'linear' | null): Info;
  /** a @ b + bias (bias [N]) with a fused activation. */
  matMulBias(a: Info, b: Info, bias: Info, activation: 'relu' | 'linear'): Info;
  /** [1, R, C] -> [1, C, R]. */
  transpose(x: Info): Info;
  relu(x: Info): Info;
  /** d * (y > 0) over d's columns (y may have more). */
  reluGrad(d: Info, y: Info): Info;
  /**
   * d * (y > 0) (d itself when y is null), d [1, B, n]; its column sums go to sums[offset..] (a bias
   * gradient). `transposed`: d and y are [1, n, B] and the sums are row sums.
   */
  reluGradSum(d: Info, y: Info | null, sums: Float32Array, offset: number, transposed?: boolean): Info;
  /** t's values on the host; valid until the next kernel runs. */
  values(t: Info): Float32Array;
  /** t as an engine tensor (the loss's tfjs ops need one); the engine owns it from then on. */
  tensor(t: Info): tf.Tensor;
  /** Frees what the runner made (except what tensor() handed over). */
  dispose(): void;
}

/** Kernels run outside the engine so far (tf.profile does not see them; bench/kernel-profile adds them). */
export const outsideEngine = { kernels: 0 };

const NO_TRANSPOSE = { transposeA: false, transposeB: false };
const FUSED_ATTRS = { relu: { ...NO_TRANSPOSE, activation: 'relu' }, linear: { ...NO_TRANSPOSE, activation: 'linear' } };
const PERM = { perm: [0, 2, 1] };

/** tfjs ops; tensors are tracked by the caller's tf.tidy. */
const engineRunner: Runner = {
  upload: (values, shape) => tf.tensor(values, shape, 'float32'),
  matMul: (a, b, activation) =>
    tf.engine().runKernel(activation ? '_FusedMatMul' : 'BatchMatMul', { a, b } as unknown as tf.NamedTensorMap, activation ? FUSED_ATTRS[activation] : NO_TRANSPOSE) as tf.Tensor,
  matMulBias: (a, b, bias, activation) =>
    tf.engine().runKernel('_FusedMatMul', { a, b, bias } as unknown as tf.NamedTensorMap, FUSED_ATTRS[activation]) as tf.Tensor,
  transpose: (x) => tf.transpose(x as tf.Tensor, [0, 2, 1]),
  relu: (x) => tf.relu(x as tf.Tensor),
  reluGrad: (d, y) => reluGrad(d as tf.Tensor, y as tf.Tensor),
  reluGradSum: (d, y, sums, offset, transposed = false) => {
    const g = y ? reluGrad(d as tf.Tensor, y as tf.Tensor) : (d as tf.Tensor);
    sums.set(tf.sum(g, transposed ? [0, 2] : [0, 1]).dataSync() as Float32Array, offset);
    return g;
  },
  values: (t) => (t as tf.Tensor).dataSync() as Float32Array,
  tensor: (t) => t as tf.Tensor,
  dispose: () => undefined,
};

type KernelFn = (args: { inputs: Record<string, Info>; backend: unknown; attrs?: object }) => Info;
interface BackendLike {
  write(values: Float32Array, shape: number[], dtype: 'float32'): object;
  disposeData(dataId: object): boolean;
  readSync(dataId: object): Float32Array;
}

/** The backend's kernel functions called without the engine (wasm and cpu). */
class DirectRunner implements Runner {
  private made: Info[] = [];
  private readonly fused: KernelFn;
  private readonly mm: KernelFn;
  private readonly tr: KernelFn;
  private readonly rl: KernelFn;

  constructor(
    protected readonly backend: BackendLike,
    backendName: string,
  ) {
    const kernel = (name: string) => tf.getKernel(name, backendName)!.kernelFunc as unknown as KernelFn;
    this.fused = kernel('_FusedMatMul');
    this.mm = kernel('BatchMatMul');
    this.tr = kernel('Transpose');
    this.rl = kernel('Relu');
  }

  protected keep(t: Info, kernel = true): Info {
    if (kernel) outsideEngine.kernels++;
    this.made.push(t);
    return t;
  }
  upload(values: Float32Array, shape: number[]): Info {
    return this.keep({ dataId: this.backend.write(values, shape, 'float32'), shape, dtype: 'float32' }, false);
  }
  matMul(a: Info, b: Info, activation: 'relu' | 'linear' | null): Info {
    const backend = this.backend;
    return this.keep(activation ? this.fused({ inputs: { a, b }, backend, attrs: FUSED_ATTRS[activation] }) : this.mm({ inputs: { a, b }, backend, attrs: NO_TRANSPOSE }));
  }
  matMulBias(a: Info, b: Info, bias: Info, activation: 'relu' | 'linear'): Info {
    return this.keep(this.fused({ inputs: { a, b, bias }, backend: this.backend, attrs: FUSED_ATTRS[activation] }));
  }
  transpose(x: Info): Info {
    return this.keep(this.tr({ inputs: { x }, backend: this.backend, attrs: PERM }));
  }
  relu(x: Info): Info {
    return this.keep(this.rl({ inputs: { x }, backend: this.backend }));
  }
  reluGrad(d: Info, y: Info): Info {
    return this.keep(reluGradKernel(this.backend, d, y));
  }
  reluGradSum(d: Info, y: Info | null, sums: Float32Array, offset: number, transposed = false): Info {
    const g = reluGradSumKernel(this.backend, d, y, sums, offset, transposed);
    return g === d ? d : this.keep(g);
  }
  values(t: Info): Float32Array {
    return this.backend.readSync(t.dataId);
  }
  tensor(t: Info): tf.Tensor {
    this.made = this.made.filter((m) => m !== t);
    return tf.engine().makeTensorFromTensorInfo(t as unknown as tf.TensorInfo, this.backend as unknown as tf.KernelBackend);
  }
  dispose(): void {
    for (const t of this.made) this.backend.disposeData(t.dataId);
    this.made = [];
  }
}

interface WasmModule {
  HEAP32: Int32Array;
  _malloc(bytes: number): number;
  __FusedMatMul(...args: number[]): void;
  _Transpose(...args: number[]): void;
}
interface WasmBackendLike extends BackendLike {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}

/** Direct kernel functions on wasm, with host values read as heap views. */
class WasmDirectRunner extends DirectRunner {
  override values(t: Info): Float32Array {
    return (this.backend as WasmBackendLike).typedArrayFromHeap(t);
  }
}

/** The C signatures below are tfjs-backend-wasm 4.22's. */
const RAW_WASM_VERSION = '4.22.0';
const ACTIVATION_CODE = { linear: 0, relu: 1 }; // tfjs-backend-wasm's FusableActivation
const FLOAT32_CODE = 0; // its CppDType
/** 16 int32 of wasm heap per backend instance for kernel shape arguments. */
const shapeSlots = new WeakMap<object, number>();

/** The wasm module's exported kernels called directly (see the header). */
class RawWasmRunner extends DirectRunner {
  private readonly wasm: WasmModule;
  private readonly slot: number;
  private readonly heap: HeapKernelExports | null;

  constructor(private readonly wasmBackend: WasmBackendLike) {
    super(wasmBackend, 'wasm');
    this.wasm = wasmBackend.wasm;
    let slot = shapeSlots.get(wasmBackend);
    if (slot === undefined) shapeSlots.set(wasmBackend, (slot = wasmBackend.wasm._malloc(64) >>> 0));
    this.slot = slot;
    this.heap = heapKernels(wasmBackend.wasm as unknown as { asm?: { memory?: unknown } });
  }

  private id(t: Info): number {
    return this.wasmBackend.dataIdMap.get(t.dataId).id;
  }

  override matMul(a: Info, b: Info, activation: 'relu' | 'linear' | null): Info {
    return this.fusedMatMul(a, b, null, activation);
  }

  override matMulBias(a: Info, b: Info, bias: Info, activation: 'relu' | 'linear'): Info {
    return this.fusedMatMul(a, b, bias, activation);
  }

  private fusedMatMul(a: Info, b: Info, bias: Info | null, activation: 'relu' | 'linear' | null): Info {
    const [m, k] = [a.shape[1], a.shape[2]];
    const n = b.shape[2];
    if (a.shape[0] !== 1 || b.shape[0] !== 1 || b.shape[1] !== k || (bias && (bias.shape.length !== 1 || bias.shape[0] !== n))) {
      return bias ? super.matMulBias(a, b, bias, activation ?? 'linear') : super.matMul(a, b, activation);
    }
    const out = this.keep(this.wasmBackend.makeOutput([1, m, n], 'float32'));
    const heap = this.wasm.HEAP32; // after the allocation, which may grow the heap
    const s = this.slot >> 2;
    heap[s] = 1;
    heap[s + 1] = m;
    heap[s + 2] = k;
    heap[s + 3] = 1;
    heap[s + 4] = k;
    heap[s + 5] = n;
    // (a_id, a_shape, a_rank, b_id, b_shape, b_rank, transpose_a, transpose_b, activation, bias_id, prelu_id, leaky_alpha, out_id)
    this.wasm.__FusedMatMul(this.id(a), this.slot, 3, this.id(b), this.slot + 12, 3, 0, 0, ACTIVATION_CODE[activation ?? 'linear'], bias ? this.id(bias) : 0, 0, 0, this.id(out));
    return out;
  }

  override transpose(x: Info): Info {
    const [, rows, cols] = x.shape;
    if (x.shape[0] !== 1 || rows === 1 || cols === 1) return super.transpose(x);
    const out = this.keep(this.wasmBackend.makeOutput([1, cols, rows], 'float32'));
    if (this.heap) {
      // The SIMD blocked transpose (wasm/transpose.wat): tfjs-wasm's writes one float per output row in turn.
      const map = this.wasmBackend.dataIdMap;
      this.heap.transpose(map.get(x.dataId).memoryOffset, map.get(out.dataId).memoryOffset, rows, cols);
      return out;
    }
    const heap = this.wasm.HEAP32;
    const s = this.slot >> 2;
    heap[s] = rows;
    heap[s + 1] = cols;
    heap[s + 2] = 1; // perm [1, 0]
    heap[s + 3] = 0;
    // (x_id, x_shape, x_rank, dtype, out_id, perm, perm_len)
    this.wasm._Transpose(this.id(x), this.slot, 2, FLOAT32_CODE, this.id(out), this.slot + 8, 2);
    return out;
  }

  override values(t: Info): Float32Array {
    return this.wasmBackend.typedArrayFromHeap(t); // a view, no copy
  }
}

function rawWasmUsable(backend: Partial<WasmBackendLike>): boolean {
  const m = backend.wasm;
  return tfWasm.version_wasm === RAW_WASM_VERSION && !!m && typeof m.__FusedMatMul === 'function' && typeof m._Transpose === 'function' && typeof m._malloc === 'function' && !!backend.dataIdMap;
}

export type RunnerKind = 'fastest' | 'direct' | 'engine';

/**
 * The cheapest runner for the current backend ('fastest'), or a given slower one (tests
 * compare them). Call dispose() when done (in a finally).
 */
export function kernelRunner(kind: RunnerKind = 'fastest'): Runner {
  const name = tf.getBackend();
  const backend = tf.backend() as unknown as WasmBackendLike;
  if (kind === 'engine' || (name !== 'wasm' && name !== 'cpu')) return engineRunner;
  if (name === 'cpu') return new DirectRunner(backend, name);
  return kind === 'fastest' && rawWasmUsable(backend) ? new RawWasmRunner(backend) : new WasmDirectRunner(backend, name);
}
