// bench/bayes: every algorithm on the seed workload (Push tutorial): BiggerNN(10, 20),
// 1280 inputs x ~ N(0, I), y ~ N(0, 1), batch 128, Adam lr 0.01, MSE; 8 particles on
// cpu:0,cpu:1. Wall time per epoch, and where it goes: device compute (the slowest
// device's handler time per round), leader compute (SVGD's kernel and Stein
// directions in the coordinator) and messaging (the rest: encoding, thread hops,
// waiting). Also the time of one BMA prediction over the 1280 inputs. Median epoch
// time after the first, best of two runs.
// Run: npm run build && node dist/bench/bayes.js [--quick]
import { Posterior, trainDeepEnsemble, trainMCDropout, trainMultiSWAG, trainSVGD } from '../src/bayes';
import type { CommonTrainOptions } from '../src/bayes';
import { biggerNN } from '../src/nn';
import { Rng } from '../src/util/rng';
import { printTable, Row, writeResults } from './report';

const N = 1280;
const D = 20;

function seedData() {
  const rng = new Rng(1);
  return { x: rng.fillNormal(new Float32Array(N * D)), xShape: [N, D], y: rng.fillNormal(new Float32Array(N)), yShape: [N, 1] };
}

type Trainer = (o: CommonTrainOptions & Record<string, unknown>) => Promise<Posterior>;

const ALGORITHMS: { name: string; train: Trainer; extra: Record<string, unknown> }[] = [
  { name: 'ensemble', train: trainDeepEnsemble, extra: {} },
  { name: 'ensemble+prior+bootstrap', train: trainDeepEnsemble, extra: { randomPrior: { beta: 1 }, bootstrap: true } },
  { name: 'mswag', train: trainMultiSWAG, extra: { swagEpochs: 2 } },
  { name: 'svgd', train: trainSVGD, extra: {} },
  { name: 'mcdropout', train: trainMCDropout, extra: {} },
];

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function measure(a: (typeof ALGORITHMS)[number], epochs: number, devices: string): Promise<Row> {
  const data = seedData();
  const seconds: number[] = [];
  const post = await a.train({
    model: biggerNN(10, D),
    data,
    epochs,
    batchSize: 128,
    particles: 8,
    devices,
    optimizer: { type: 'adam', lr: 0.01 },
    seed: 3,
    onEpoch: ({ seconds: s }) => {
      seconds.push(s);
    },
    ...a.extra,
  });
  try {
    const t = post.info.timing!;
    const t0 = performance.now();
    await post.predict({ x: data.x, xShape: data.xShape }, { modes: ['mean', 'std'] });
    const predictMs = performance.now() - t0;
    const steady = seconds.length > 1 ? seconds.slice(1) : seconds; // the first epoch warms up JIT and wasm
    return {
      algorithm: a.name,
      devices,
      ms_per_epoch: 1000 * median(steady),
      rounds_per_epoch: t.rounds / epochs,
      device_pct: (100 * t.deviceMs) / t.wallMs,
      leader_pct: (100 * t.leaderMs) / t.wallMs,
      messaging_pct: (100 * t.messagingMs) / t.wallMs,
      messaging_ms_per_round: t.messagingMs / t.rounds,
      predict_ms: predictMs,
      members: post.algorithm === 'mswag' || post.algorithm === 'mcdropout' ? 8 * 20 : 8,
      final_loss: post.info.trainLosses![0],
    };
  } finally {
    await post.close();
  }
}

export async function runBayesBench(quick = false): Promise<Row[]> {
  const epochs = quick ? 3 : 6;
  const rows: Row[] = [];
  for (const devices of quick ? ['cpu:0,cpu:1'] : ['cpu:0', 'cpu:0,cpu:1']) {
    for (const a of ALGORITHMS) {
      // Best of two runs: other processes on a shared 2-core machine add noise, never speed.
      const runs = [await measure(a, epochs, devices), await measure(a, epochs, devices)];
      const row = runs.reduce((best, r) => ((r.ms_per_epoch as number) < (best.ms_per_epoch as number) ? r : best));
      console.error(`  ${a.name} on ${devices}: ${(row.ms_per_epoch as number).toFixed(0)} ms/epoch, ${(row.messaging_pct as number).toFixed(1)}% messaging`);
      rows.push(row);
    }
  }
  printTable('algorithms on the seed workload, 8 particles (wasm backend; % of training wall time)', rows);
  const file = writeResults('bayes', { workload: 'BiggerNN(10,20), 1280x20, batch 128, Adam 0.01, MSE, 8 particles', epochs, rows });
  console.log(`results: ${file}`);
  return rows;
}

if (require.main === module) {
  runBayesBench(process.argv.includes('--quick')).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
