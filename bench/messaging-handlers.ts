// Handlers for bench/messaging: timed p.get loops, run inside device workers.
import type { Particle } from '../src/runtime/particle';

/**
 * Fetches particle `to`'s parameters `warmups` times untimed, then `reps` times; returns ms per round trip,
 * parameter bytes and all bytes (gradients too) per fetch.
 */
export async function timeGet(p: Particle, to: number, reps: number, warmups = 1): Promise<{ msPerGet: number; bytes: number; wireBytes: number }> {
  let bytes = 0;
  let wireBytes = 0;
  for (let i = 0; i < warmups; i++) await p.get(to);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const got = await p.get(to);
    bytes = got.params.byteLength;
    wireBytes = bytes + got.grads.byteLength;
  }
  return { msPerGet: (performance.now() - t0) / reps, bytes, wireBytes };
}
