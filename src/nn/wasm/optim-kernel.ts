// Runs the fused optimizer kernels of optim.wat (f32x4 SIMD) on a particle
// group's host buffers, without copying them.
//
// Why zero-copy: the update streams 4 [n] arrays in and 3 out, so it is bound
// by memory traffic; copying them into a wasm memory and back doubles that
// traffic. On the MLP 784-256-256-10 (bench/dense-floor, one row of 269k
// values) Adam takes 0.20 ms in place, 0.39 ms with copies in and out, 2.3 ms
// in the JS loop. So a group allocates its params, grads and slots as views
// of one WebAssembly.Memory it owns (allocateHostBuffers).
// That is safe because:
//   - the memory is sized once and never grown (growing would detach every
//     view); a group that grows allocates a new one and copies;
//   - nothing transfers these buffers: messages and spill files copy views
//     into frames (runtime/wire.ts), and a wasm memory's buffer is not
//     transferable anyway;
//   - buffers not in a kernel memory (a caller's own arrays) take the JS loop.
// Without WebAssembly SIMD (WebAssembly.validate fails on the module) or with
// PUSH_ENS_WASM_KERNELS=0 in the environment, buffers are plain Float32Arrays
// and every update takes the JS loop in optimizers.ts.
import { OPTIM_WASM_BASE64 } from './optim-bytes';

export interface OptimKernelExports {
  adam(p: number, g: number, m: number, v: number, n: number, w1: number, b2: number, w2: number, negStep: number, bc2: number, eps: number, decay: number, l2: number, sign: number): void;
  sgd(p: number, g: number, buf: number, n: number, negLr: number, wd: number, mom: number, damp: number, sign: number, first: number, nesterov: number): void;
}

/** The part of the WebAssembly API used here (this project's TS libs do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (desc: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  Instance: new (module: WasmModule, imports: object) => { readonly exports: unknown };
}
type WasmModule = { readonly __wasmModule?: never };
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const PAGE = 65536;
/** wasm32 addresses 4 GiB at most. */
const MAX_PAGES = 65536;

let compiled: WasmModule | null | undefined;
let enabled = readEnvSwitch();
/** The kernel instance that owns each memory buffer handed out by allocateHostBuffers. */
const kernels = new WeakMap<ArrayBufferLike, OptimKernelExports>();

function readEnvSwitch(): boolean {
  const env = typeof process !== 'undefined' ? process.env?.PUSH_ENS_WASM_KERNELS : undefined;
  return env !== '0' && env !== 'false';
}

function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The compiled kernel module, once per thread; null where WebAssembly SIMD is unavailable. */
function kernelModule(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  if (wasm) {
    const bytes = decodeBase64(OPTIM_WASM_BASE64);
    // The module itself uses SIMD, so validating it is the feature test.
    if (wasm.validate(bytes)) compiled = new wasm.Module(bytes);
  }
  return compiled;
}

/** Whether new host buffers go into wasm memory and updates on them run the SIMD kernel. */
export function wasmOptimizerAvailable(): boolean {
  return enabled && kernelModule() !== null;
}

/**
 * Turns the wasm kernels on or off for buffers allocated from now on (tests force the
 * JS fallback with it). Buffers already in a kernel memory keep using the kernel.
 */
export function setWasmOptimizerEnabled(on: boolean): void {
  enabled = on;
}

/**
 * `count` zeroed Float32Arrays of `length` values each. With the kernel available they are
 * views of one WebAssembly.Memory (each 16-byte aligned) that the optimizer updates in
 * place; otherwise, or if that memory cannot be had, plain Float32Arrays.
 */
export function allocateHostBuffers(count: number, length: number): Float32Array[] {
  const plain = () => Array.from({ length: count }, () => new Float32Array(length));
  const mod = wasmOptimizerAvailable() ? kernelModule() : null;
  if (!mod || count === 0) return plain();
  const stride = Math.ceil((length * 4) / 16) * 16;
  const pages = Math.max(1, Math.ceil((stride * count) / PAGE));
  if (pages > MAX_PAGES) return plain();
  let memory: { readonly buffer: ArrayBuffer };
  try {
    memory = new wasm!.Memory({ initial: pages, maximum: pages });
  } catch {
    return plain(); // address space or memory limit: the JS loop still works
  }
  const instance = new wasm!.Instance(mod, { env: { memory } });
  kernels.set(memory.buffer, instance.exports as unknown as OptimKernelExports);
  return Array.from({ length: count }, (_, i) => new Float32Array(memory.buffer, i * stride, length));
}

/** The kernel that can update these arrays in place: all must be views of the same kernel memory. */
export function kernelFor(arrays: readonly Float32Array[]): OptimKernelExports | null {
  const buffer = arrays[0].buffer;
  const k = kernels.get(buffer);
  if (!k) return null;
  for (const a of arrays) if (a.buffer !== buffer) return null;
  return k;
}
