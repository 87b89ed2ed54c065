// Moving values between the wasm heap and host loops without paying for it.
// Measured on these VMs (Firecracker): a fresh 2.4 MB Float32Array costs
// 3-10 ms of page faults the first time it is written, and tfjs-wasm's
// dataSync is such a fresh copy (HEAPU8.slice). Copying into memory that is
// already mapped takes ~0.1 ms. So host loops read tensors in place (peek) and
// write into scratch arrays reused from step to step; uploads copy them into
// the wasm heap, whose own allocator reuses its pages.
import { tf } from '../util/tf';
import { backendAliasesUploads } from './shapes';

interface WasmInternals {
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
}

/**
 * t's float32 values, read-only. On wasm: a view into the wasm heap, valid only
 * until the next tf op or disposal (memory growth detaches it), so read it at once.
 * Elsewhere: dataSync (the cpu backend returns its own array, no copy).
 */
export function peek(t: tf.Tensor): Float32Array {
  if (t.dtype === 'float32' && tf.getBackend() === 'wasm') {
    const be = tf.backend() as unknown as Partial<WasmInternals>;
    const entry = be.dataIdMap?.get(t.dataId);
    const heap = be.wasm?.HEAPU8;
    if (entry && heap) return new Float32Array(heap.buffer, entry.memoryOffset, t.size);
  }
  return t.dataSync() as Float32Array;
}

const pool = new Map<string, Float32Array>();

/**
 * A Float32Array of n elements for one named use, contents undefined. Reused across
 * calls on backends that copy uploads (wasm), so it must not outlive the call that
 * asked for it; fresh elsewhere (the cpu backend would alias it into a tensor).
 */
export function scratch(key: string, n: number): Float32Array {
  if (backendAliasesUploads()) return new Float32Array(n);
  let a = pool.get(key);
  if (!a || a.length < n) {
    a = new Float32Array(n);
    pool.set(key, a);
  }
  return a.length === n ? a : a.subarray(0, n);
}
