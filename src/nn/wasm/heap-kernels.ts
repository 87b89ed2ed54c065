// Hand-written SIMD kernels (transpose.wat) instantiated on tfjs-backend-wasm's
// own WebAssembly.Memory, so they read and write the backend's tensors in
// place, with no copies: the backend's memory offsets are byte addresses in
// that memory. Used by kernel-runner.ts's raw wasm runner, which already
// depends on tfjs-backend-wasm 4.22's internals (the Emscripten module's
// `asm.memory` and the data map's `memoryOffset`); where those are missing, or
// without WebAssembly SIMD, heapKernels() is null and the backend's own kernels run.
import { TRANSPOSE_WASM_BASE64 } from './transpose-bytes';

export interface HeapKernelExports {
  /** dst[c * rows + r] = src[r * cols + c] (byte offsets into the backend's memory). */
  transpose(src: number, dst: number, rows: number, cols: number): void;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (desc: { initial: number }) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;
const instances = new WeakMap<object, HeapKernelExports | null>();

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function kernelModule(): object | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  const env = typeof process !== 'undefined' ? process.env?.PUSH_ENS_WASM_KERNELS : undefined;
  if (wasm && env !== '0' && env !== 'false') {
    const bytes = decodeBase64(TRANSPOSE_WASM_BASE64);
    if (wasm.validate(bytes)) compiled = new wasm.Module(bytes); // SIMD: validating is the feature test
  }
  return compiled;
}

/** The kernels on this Emscripten module's memory (tfjs-backend-wasm's `backend.wasm`), or null. */
export function heapKernels(emscriptenModule: { asm?: { memory?: unknown } }): HeapKernelExports | null {
  const cached = instances.get(emscriptenModule);
  if (cached !== undefined) return cached;
  let kernels: HeapKernelExports | null = null;
  const mod = kernelModule();
  const memory = emscriptenModule.asm?.memory;
  if (mod && wasm && memory instanceof (wasm.Memory as unknown as new () => object)) {
    try {
      kernels = new wasm.Instance(mod, { env: { memory } }).exports as HeapKernelExports;
    } catch {
      kernels = null; // e.g. a shared memory (threaded build) the module does not declare
    }
  }
  instances.set(emscriptenModule, kernels);
  return kernels;
}
