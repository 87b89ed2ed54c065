// bench/messaging: round-trip time and throughput of p.get for 1 KB, 1 MB and
// 40 MB parameter sets: same device, across threads, across processes.
// mb_per_s counts the parameters (the figure); wire_mb_per_s counts
// what travels (parameters and gradients). Across processes, frames of 1 MiB
// or more go through shared memory (src/runtime/stream-frames.ts).
// Run: npm run build && node dist/bench/messaging.js
import * as path from 'node:path';
import { PushDist } from '../src/runtime/coordinator';
import { printTable, Row, writeResults } from './report';

const HANDLERS = path.resolve(__dirname, 'messaging-handlers.js');

/** A one-layer model with about `bytes` bytes of float32 parameters. */
function modelOfBytes(bytes: number) {
  const floats = Math.max(2, Math.round(bytes / 4));
  const units = 16;
  const inputs = Math.max(1, Math.round(floats / units) - 1); // (in + 1) * units parameters
  return { format: 'push-ens/sequential', inputShape: [inputs], layers: [{ type: 'dense', units }] };
}

export async function measure(sizeBytes: number, where: 'same device' | 'threads' | 'processes'): Promise<Row> {
  const devices = where === 'same device' ? 'cpu:0' : 'cpu:0,cpu:1';
  const dist = await PushDist.create({
    devices,
    model: modelOfBytes(sizeBytes),
    handlers: HANDLERS,
    isolation: where === 'processes' ? 'process' : 'thread',
    backend: 'cpu',
  });
  try {
    dist.createParticle({ device: 'cpu:0' });
    dist.createParticle({ device: where === 'same device' ? 'cpu:0' : 'cpu:1' });
    const reps = sizeBytes >= 10e6 ? 8 : sizeBytes >= 1e5 ? 50 : 500;
    // Large messages: the receiving worker's heap grows to hold about three frames (the old ones
    // are freed at the next GC) during the first gets, which fault in new memory; time the steady state.
    const warmups = sizeBytes >= 10e6 ? 3 : 1;
    const { msPerGet, bytes, wireBytes } = await dist.launch<{ msPerGet: number; bytes: number; wireBytes: number }>(0, 'timeGet', 1, reps, warmups);
    return {
      size: sizeBytes >= 1e6 ? `${Math.round(sizeBytes / 1e6)} MB` : `${Math.round(sizeBytes / 1e3)} KB`,
      path: where,
      params_bytes: bytes,
      rtt_ms: msPerGet,
      mb_per_s: bytes / 1e6 / (msPerGet / 1e3),
      // p.get brings the gradients too: twice the parameter bytes cross each boundary.
      wire_mb_per_s: wireBytes / 1e6 / (msPerGet / 1e3),
    };
  } finally {
    await dist.close();
  }
}

export async function runMessagingBench(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const size of [1e3, 1e6, 40e6]) {
    for (const where of ['same device', 'threads', 'processes'] as const) rows.push(await measure(size, where));
  }
  printTable('p.get round trip (parameters; gradients travel too)', rows);
  const file = writeResults('messaging', { rows });
  console.log(`results: ${file}`);
  return rows;
}

if (require.main === module) {
  runMessagingBench().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
