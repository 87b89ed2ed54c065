// bench/rss: memory over a long run. A deep ensemble of 8 particles on the seed
// workload (BiggerNN(10, 20), 1280 x 20, batch 128) trains for a few hundred
// epochs on cpu:0,cpu:1 with process workers, predicting 256 inputs every
// interval too; every interval it records the coordinator's RSS, each worker
// process's RSS (/proc/PID/status), the tensors alive in each worker and the
// worker's V8 heap and array buffers (growth of RSS alone, with those flat, is
// the allocator's, not a leak of ours).
// Every sample follows a full garbage collection in each process, so it shows
// retained memory. Flat: after the warm-up (the first sixth of the run) no
// process grew by more than 10% (RSS still moves with the allocator) and the
// tensor counts did not change at all.
// Run: npm run build && node dist/bench/rss.js [--epochs 300] [--every 25]
import * as fs from 'node:fs';
import { trainDeepEnsemble } from '../src/bayes';
import type { Posterior } from '../src/bayes';
import { fullGc, type WorkerMemory } from '../src/bayes/device/handlers';
import { biggerNN } from '../src/nn';
import { Rng } from '../src/util/rng';
import { Row, printTable, writeResults } from './report';

const N = 1280;
const D = 20;
const DEVICES = ['cpu:0', 'cpu:1'];
const GROWTH_LIMIT = 0.1;


function rssOfProcessMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return kb / 1024;
}

interface Sample {
  epoch: number;
  coordinatorMb: number;
  workerMb: number[];
  /** Per worker: V8 heap in use and array buffers (typed arrays, frames), MB. */
  workerHeapMb: number[];
  workerBuffersMb: number[];
  tensors: number[];
}

async function sample(epoch: number, posterior: Posterior, probe: { x: Float32Array; xShape: number[] }): Promise<Sample> {
  await posterior.predict(probe);
  const dist = posterior.liveCluster.dist;
  // After a full collection everywhere, RSS is what is retained, not garbage waiting for the next major GC.
  const memory = await posterior.liveCluster.eachDevice<WorkerMemory>('bayesMemoryUsage', () => ({ gc: true }));
  fullGc();
  return {
    epoch,
    coordinatorMb: process.memoryUsage().rss / 2 ** 20,
    workerMb: DEVICES.map((d) => rssOfProcessMb(dist.workerPid(d)!)),
    workerHeapMb: memory.map((m) => m.heapUsed / 2 ** 20),
    workerBuffersMb: memory.map((m) => m.arrayBuffers / 2 ** 20),
    tensors: await posterior.numTensors(),
  };
}

export interface RssResult {
  epochs: number;
  samples: Sample[];
  /** Growth after the warm-up, per process (coordinator, then workers), as a fraction. */
  growth: number[];
  tensorsFlat: boolean;
  flat: boolean;
}

export async function runRssBench(epochs = 300, every = 25): Promise<RssResult> {
  const rng = new Rng(1);
  const data = { x: rng.fillNormal(new Float32Array(N * D)), xShape: [N, D], y: rng.fillNormal(new Float32Array(N)), yShape: [N, 1] };
  const probe = { x: data.x.subarray(0, 256 * D), xShape: [256, D] };
  const samples: Sample[] = [];
  const post = await trainDeepEnsemble({
    model: biggerNN(10, D),
    data,
    epochs,
    batchSize: 128,
    particles: 8,
    devices: DEVICES,
    isolation: 'process',
    seed: 3,
    onEpoch: async ({ epoch, posterior }) => {
      if (epoch === 1 || epoch % every === 0) {
        const s = await sample(epoch, posterior, probe);
        samples.push(s);
        console.error(`  epoch ${epoch}: coordinator ${s.coordinatorMb.toFixed(1)} MB, workers ${s.workerMb.map((m) => m.toFixed(1)).join(' / ')} MB, tensors ${s.tensors.join(' / ')}`);
      }
    },
  });
  await post.close();

  const warm = samples.filter((s) => s.epoch >= epochs / 6);
  const first = warm[0];
  const last = warm[warm.length - 1];
  const series = (s: Sample) => [s.coordinatorMb, ...s.workerMb];
  // The largest RSS seen after the warm-up against the first sample after it.
  const growth = series(first).map((start, i) => Math.max(...warm.map((s) => series(s)[i])) / start - 1);
  const tensorsFlat = warm.every((s) => s.tensors.every((t, d) => t === first.tensors[d]));
  const flat = tensorsFlat && growth.every((g) => g <= GROWTH_LIMIT);

  const rows: Row[] = samples.map((s) => ({
    epoch: s.epoch,
    coordinator_mb: s.coordinatorMb,
    ...Object.fromEntries(DEVICES.map((d, i) => [`${d}_mb`, s.workerMb[i]])),
    ...Object.fromEntries(DEVICES.map((d, i) => [`${d}_heap_mb`, s.workerHeapMb[i]])),
    ...Object.fromEntries(DEVICES.map((d, i) => [`${d}_buffers_mb`, s.workerBuffersMb[i]])),
    ...Object.fromEntries(DEVICES.map((d, i) => [`${d}_tensors`, s.tensors[i]])),
  }));
  printTable(`RSS over ${epochs} epochs, 8 particles on ${DEVICES.join(',')} (process workers)`, rows);
  console.log(
    `growth after epoch ${first.epoch} (to the largest sample up to epoch ${last.epoch}): coordinator ${(100 * growth[0]).toFixed(1)}%, ` +
      DEVICES.map((d, i) => `${d} ${(100 * growth[i + 1]).toFixed(1)}%`).join(', ') +
      `; tensors ${tensorsFlat ? 'flat' : 'CHANGED'}; ${flat ? 'flat' : 'NOT flat'}`,
  );
  const file = writeResults('rss', { workload: 'BiggerNN(10,20), 1280x20, batch 128, Adam 0.01, MSE, 8 particles, process workers', epochs, every, growth, tensorsFlat, flat, samples });
  console.log(`results: ${file}`);
  return { epochs, samples, growth, tensorsFlat, flat };
}

function flagValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} ${process.argv[i + 1]}: expected a whole number >= 1`);
  return v;
}

if (require.main === module) {
  runRssBench(flagValue('--epochs', 300), flagValue('--every', 25)).then(
    (r) => process.exit(r.flat ? 0 : 1),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
