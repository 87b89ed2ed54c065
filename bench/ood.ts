// bench/ood: OOD detection on real data. Each algorithm trains the same MLP
// (784-H-10, ReLU, Adam) on the same MNIST digits with the same budget (particles
// x epochs x batch), then scores the MNIST test digits against Fashion-MNIST test
// images: AUROC (and FPR@95%TPR) of max_prob, entropy and mutual_info, with the
// BMA's test accuracy. The PyTorch reference (bench/reference/torch_mlp_ood.py,
// run with /usr/bin/python3) trains the same deep ensemble on the same examples.
// Run: npm run bench -- ood [--quick] [--seed=N]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Posterior, train } from '../src/bayes';
import type { CommonTrainOptions } from '../src/bayes';
import { loadDataset } from '../src/data';
import { mlp } from '../src/nn';
import { printTable, Row, writeResults } from './report';

const TORCH_SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'reference', 'torch_mlp_ood.py');

export interface OodBenchConfig {
  train: number;
  test: number;
  ood: number;
  hidden: number;
  particles: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
}

const FULL: OodBenchConfig = { train: 4000, test: 1000, ood: 1000, hidden: 128, particles: 5, epochs: 8, batchSize: 64, lr: 1e-3, seed: 0 };
const QUICK: OodBenchConfig = { ...FULL, train: 1500, test: 500, ood: 500, particles: 3, epochs: 4 };

/** Each algorithm of the registry, with the options that give it the same budget (defaults elsewhere). */
const ALGORITHMS: { name: string; extra: (c: OodBenchConfig) => Record<string, unknown> }[] = [
  { name: 'ensemble', extra: () => ({}) },
  { name: 'mswag', extra: (c) => ({ swagEpochs: Math.max(2, Math.round(c.epochs / 4)), numSamples: 10 }) },
  { name: 'svgd', extra: () => ({}) },
  { name: 'mcdropout', extra: () => ({ numSamples: 10 }) },
  { name: 'laplace', extra: () => ({ numSamples: 10 }) },
  // SG-MCMC: the first half of the epochs is burn-in, then one kept sample per epoch and chain.
  { name: 'sgld', extra: () => ({ stepSize: 1e-4 }) },
  { name: 'cyclical', extra: (c) => ({ stepSize: 2e-4, cycles: Math.max(1, Math.round(c.epochs / 4)) }) },
  { name: 'sghmc', extra: () => ({ stepSize: 1e-4 }) },
];

const SCORES = ['max_prob', 'entropy', 'mutual_info'] as const;

function torchAvailable(): boolean {
  return fs.existsSync('/usr/bin/python3') && fs.existsSync(TORCH_SCRIPT) && spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
}

function writeF32(file: string, a: Float32Array): void {
  fs.writeFileSync(file, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
}

/** `--seed=N` on the command line: the data order, initialisations and PyTorch's seeds (default 0). */
function seedArg(): number {
  const a = process.argv.find((v) => v.startsWith('--seed='));
  return a ? Number(a.slice(7)) >>> 0 : 0;
}

export async function runOodBench(quick = false, seed = seedArg()): Promise<Row[]> {
  const c = { ...(quick ? QUICK : FULL), seed };
  const mnist = loadDataset(`mnist:${c.train},${c.test}`, { seed: c.seed });
  const fashion = loadDataset(`fashion-mnist:0,${c.ood}`, { seed: c.seed }).test!;
  const test = mnist.test!;
  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
  for (const a of ALGORITHMS) {
    const t0 = performance.now();
    const post = await train(a.name, {
      model: mlp([c.hidden]),
      data: mnist.train,
      epochs: c.epochs,
      batchSize: c.batchSize,
      particles: c.particles,
      devices: 'cpu:0,cpu:1',
      optimizer: { type: 'adam', lr: c.lr }, // SG-MCMC samplers make their own updates and ignore it
      seed: c.seed,
      ...a.extra(c),
    });
    try {
      const trainSeconds = (performance.now() - t0) / 1000;
      const r = await post.evaluateOOD(test, fashion, { yIn: test.y });
      const ev = await post.evaluate(test);
      const accuracy = (ev.bma as { accuracy: number }).accuracy;
      const row: Row = { algorithm: a.name, accuracy };
      for (const s of SCORES) row[`auroc ${s}`] = r.metrics[s]!.auroc;
      for (const s of SCORES) row[`fpr95 ${s}`] = r.metrics[s]!.fpr95;
      row['train s'] = trainSeconds;
      rows.push(row);
      results.push({ algorithm: a.name, accuracy, trainSeconds, metrics: r.metrics, aurc: Object.fromEntries(SCORES.map((s) => [s, r.selective![s]!.aurc])) });
    } finally {
      await post.close();
    }
  }
  // The PyTorch reference on the very same examples (flattened to 784).
  let torch: Record<string, number> | null = null;
  if (torchAvailable()) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'push-ens-ood-bench-'));
    try {
      writeF32(path.join(dir, 'train_x.f32'), mnist.train.x);
      writeF32(path.join(dir, 'train_y.f32'), mnist.train.y);
      writeF32(path.join(dir, 'test_x.f32'), test.x);
      writeF32(path.join(dir, 'test_y.f32'), test.y);
      writeF32(path.join(dir, 'ood_x.f32'), fashion.x);
      const args = [TORCH_SCRIPT, dir, '--hidden', String(c.hidden), '--members', String(c.particles), '--epochs', String(c.epochs), '--batch', String(c.batchSize), '--lr', String(c.lr), '--seed', String(c.seed)];
      const p = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', timeout: 900_000 });
      if (p.status === 0) torch = JSON.parse(p.stdout.trim().split('\n').pop()!);
      else console.log(`PyTorch reference failed (exit ${p.status}): ${p.stderr.trim().split('\n').pop()}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } else {
    console.log('PyTorch not measured (needs /usr/bin/python3 with torch and numpy)');
  }
  const torchRow: Row = { algorithm: 'pytorch ensemble', accuracy: torch?.accuracy ?? null };
  for (const s of SCORES) torchRow[`auroc ${s}`] = torch?.[`auroc_${s}`] ?? null;
  for (const s of SCORES) torchRow[`fpr95 ${s}`] = null;
  torchRow['train s'] = torch?.seconds ?? null;
  rows.push(torchRow);
  printTable(
    `OOD: MNIST ${c.test} test digits against Fashion-MNIST ${c.ood} test images; mlp:${c.hidden}, ${c.particles} particles, ${c.epochs} epochs, batch ${c.batchSize}, Adam ${c.lr}, ${c.train} training digits (cpu:0,cpu:1; times are indicative on a shared machine)`,
    rows,
  );
  const file = writeResults(c.seed === 0 ? 'ood' : `ood-seed${c.seed}`, { config: c, results, torch });
  console.log(`results: ${file}`);
  return rows;
}

if (require.main === module) {
  runOodBench(process.argv.includes('--quick')).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
