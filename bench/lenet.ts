// bench/lenet: issue 10's LeNet figure. One epoch of mnist:8000 for 4 LeNet-5
// particles on cpu:0,cpu:1 (batch 128, Adam lr 1e-3: the workload of
// /work/shared/reference/torch_lenet_epoch.py), through the CLI, next to that
// PyTorch script from the same run: on 2 threads, and as 2 one-thread processes
// (two concurrent runs of 4 particles each = 8 particles; half their wall time
// is the time for 4). The faster PyTorch figure is the reference. Goal: ours
// <= 1.5x PyTorch. Also prints core time per particle-step (2 cores x wall / steps).
// On a loaded machine wall times mostly measure the scheduler, so it also runs
// the same epoch in-process (PushDist, stacked group steps, as the CLI does) and
// reports measured CPU time (process.cpuUsage, all threads) next to PyTorch's
// (time.process_time of its training loop).
// Run: npm run build && node dist/bench/lenet.js [--repeats N] [--skip-torch]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { printTable, Row, writeResults } from './report';
import { lenet } from '../src/nn';
import { loadMnist } from '../src/data/mnist';
import { PushDist } from '../src/runtime/coordinator';

const ROOT = path.resolve(__dirname, '..', '..');
const TORCH_SCRIPT = path.resolve(ROOT, '..', 'shared', 'reference', 'torch_lenet_epoch.py');
const MNIST_DIR = path.dirname(require.resolve('mnist/src/digits/0.json'));
const PARTICLE_STEPS = 4 * Math.ceil(8000 / 128);

/** Our training seconds for the epoch (the CLI's own figure, without start-up and evaluation). */
function ours(): number {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet-bench-'));
  try {
    const args = ['train', '--data', 'mnist:8000,2000', '--model', 'lenet', '--particles', '4', '--devices', 'cpu:0,cpu:1', '--epochs', '1', '--lr', '0.001', '--out', path.join(out, 'ckpt')];
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...args], { encoding: 'utf8', timeout: 900_000 });
    const m = /particle-steps in ([\d.]+) s/.exec(r.stdout ?? '');
    if (r.status !== 0 || !m) throw new Error(`push-ens train failed (${r.status}): ${r.stderr}`);
    return Number(m[1]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** The same epoch in this process: wall and CPU seconds of the training alone (data already on the devices). */
async function oursInProcess(): Promise<{ wall: number; cpu: number }> {
  const data = loadMnist(8000, 0).train;
  const dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: lenet(), seed: 0 });
  try {
    for (let i = 0; i < 4; i++) dist.createParticle({ optimizer: { type: 'adam', lr: 0.001 } });
    const byDevice = new Map<string, number[]>();
    for (const pid of dist.particleIds()) byDevice.set(dist.deviceOf(pid), [...(byDevice.get(dist.deviceOf(pid)) ?? []), pid]);
    await Promise.all([...byDevice.values()].map((pids) => dist.launch(pids[0], 'pushSetData', 'lenet', data)));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const plan = (pids: number[]) => ({ key: 'lenet', pids, epochs: [0], batchSize: 128, loss: 'cross-entropy', seed: 1 });
    await Promise.all([...byDevice.values()].map((pids) => dist.launch(pids[0], 'pushTrainEpochs', plan(pids))));
    const c = process.cpuUsage(c0);
    return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
  } finally {
    await dist.close();
  }
}

/** Seconds of the reference script's training loop: wall, or CPU (all threads) with cpu = true. */
function torchRun(threads: number, cpu = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = [TORCH_SCRIPT, MNIST_DIR, String(threads)];
    // The script times itself with time.time(); time.process_time() gives its CPU time instead.
    const cpuArgs = ['-c', `import runpy, sys, time; time.time = time.process_time; sys.argv = ${JSON.stringify(args)}; runpy.run_path(sys.argv[0], run_name="__main__")`];
    const child = spawn('/usr/bin/python3', cpu ? cpuArgs : args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`exit ${code}: ${stderr.trim().split('\n').pop()}`);
        resolve(JSON.parse(stdout.trim().split('\n').pop()!).seconds);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

function torchAvailable(): boolean {
  if (!fs.existsSync(TORCH_SCRIPT)) return false;
  return spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
}

export interface LenetResult {
  /** Our CLI epoch, wall ms (best of the repeats). */
  oursMs: number;
  /** The faster PyTorch set-up (2 threads or 2 one-thread processes), wall ms; null when torch is absent. */
  torchMs: number | null;
  /** oursMs / torchMs (goal <= 1.5), null when torch is absent. */
  ratio: number | null;
  cpuRatio: number | null;
}

/** LeNet, 4 particles, one epoch of mnist:8000 against the PyTorch reference, measured in this run. */
export async function runLenetBench(repeats = 1, skipTorch = false): Promise<LenetResult> {
  const withTorch = !skipTorch && torchAvailable();
  const best = { ours: Infinity, torch2threads: Infinity, torch2processes: Infinity };
  const cpu = { ours: Infinity, oursWall: Infinity, torch2threads: Infinity, torch2processes: Infinity };
  for (let i = 0; i < repeats; i++) {
    best.ours = Math.min(best.ours, ours());
    const inProc = await oursInProcess();
    cpu.ours = Math.min(cpu.ours, inProc.cpu);
    cpu.oursWall = Math.min(cpu.oursWall, inProc.wall);
    if (!withTorch) continue;
    best.torch2threads = Math.min(best.torch2threads, await torchRun(2));
    const pair = await Promise.all([torchRun(1), torchRun(1)]);
    best.torch2processes = Math.min(best.torch2processes, Math.max(...pair) / 2);
    cpu.torch2threads = Math.min(cpu.torch2threads, await torchRun(2, true));
    const cpuPair = await Promise.all([torchRun(1, true), torchRun(1, true)]);
    cpu.torch2processes = Math.min(cpu.torch2processes, (cpuPair[0] + cpuPair[1]) / 2);
  }
  const torch = Math.min(best.torch2threads, best.torch2processes);
  const torchCpu = Math.min(cpu.torch2threads, cpu.torch2processes);
  const row = (who: string, seconds: number, cpuSeconds: number): Row => ({
    run: who,
    ms_per_epoch: Number.isFinite(seconds) ? Math.round(seconds * 1000) : null,
    core_ms_per_particle_step: Number.isFinite(seconds) ? (2 * seconds * 1000) / PARTICLE_STEPS : null,
    cpu_ms_per_epoch: Number.isFinite(cpuSeconds) ? Math.round(cpuSeconds * 1000) : null,
    cpu_ms_per_particle_step: Number.isFinite(cpuSeconds) ? (cpuSeconds * 1000) / PARTICLE_STEPS : null,
  });
  const rows = [
    row('push-ens CLI, 4 particles on cpu:0,cpu:1 (wasm)', best.ours, NaN),
    row('push-ens in-process, same epoch', cpu.oursWall, cpu.ours),
    row('PyTorch, 2 threads', best.torch2threads, cpu.torch2threads),
    row('PyTorch, 2 one-thread processes (per 4 particles)', best.torch2processes, cpu.torch2processes),
  ];
  printTable(`LeNet-5, 4 particles, 1 epoch of mnist:8000, batch 128, Adam 1e-3 (best of ${repeats})`, rows);
  const ratio = withTorch ? best.ours / torch : NaN;
  const cpuRatio = withTorch ? cpu.ours / torchCpu : NaN;
  printTable('ratios', [
    { target: 'ours (CLI wall) / fastest PyTorch wall (goal <= 1.5)', value: ratio },
    { target: 'ours / PyTorch in CPU time per epoch (same ratio on a quiet machine)', value: cpuRatio },
  ]);
  if (!withTorch) console.log('PyTorch not measured (needs /usr/bin/python3 with torch and numpy, and the reference script)');
  console.log(`results: ${writeResults('lenet', { rows, ratio, cpuRatio, particleSteps: PARTICLE_STEPS, repeats })}`);
  return { oursMs: best.ours * 1000, torchMs: withTorch ? torch * 1000 : null, ratio: withTorch ? ratio : null, cpuRatio: withTorch ? cpuRatio : null };
}

if (require.main === module) {
  const repeats = Number(process.argv[process.argv.indexOf('--repeats') + 1]) || 1;
  runLenetBench(repeats, process.argv.includes('--skip-torch')).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
