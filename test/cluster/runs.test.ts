// Run-level features on remote devices, against the same run on local ones:
// `push-ens train --resume` onto worker hosts, onNan skip and reinit (events and
// parameters), and the particle cache swapping on a worker host. One nats-server
// and two worker hosts serve the whole file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainDeepEnsemble } from '../../src/bayes';
import type { EnsembleOptions, NanEvent } from '../../src/bayes';
import { biggerNN } from '../../src/nn';
import { PushDist } from '../../src/runtime/coordinator';
import type { NatsOptions } from '../../src/runtime/nats/options';
import { Rng } from '../../src/util/rng';
import { regressionData } from '../bayes/helpers';
import { CliResult, checkpointFiles, runCli, ok } from '../cli/helpers';
import { NatsServer, WorkerProcess, startNatsServer, startWorker, stopAll } from './harness';

jest.setTimeout(120_000);

let server: NatsServer;
let nats: NatsOptions;
let work: string;
let hosts: WorkerProcess[];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'push-ens-cluster-runs-'));
  server = await startNatsServer();
  nats = { servers: server.url };
  hosts = await Promise.all([startWorker(server.url, 'hostA', 'cpu:0'), startWorker(server.url, 'hostB', 'cpu:0')]);
});

afterAll(async () => {
  await stopAll();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const manifest = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { epoch: number; trainLosses: number[] };

test('push-ens train --resume onto worker hosts ends with the checkpoint of an uninterrupted local run, bit for bit', async () => {
  const T = ['--data', 'toy', '--model', 'mlp:8', '--particles', '3', '-b', '32', '--seed', '4', '--quiet'];
  const whole = path.join(work, 'whole');
  const split = path.join(work, 'split');
  const remote = ['--nats', server.url];
  // Two epochs on two worker hosts, checkpointed each epoch; then two more, resumed on them in the other order.
  await Promise.all([
    runCli(['train', ...T, '--epochs', '4', '--devices', 'cpu:0', '--out', whole]).then(ok),
    runCli(['train', ...T, '--epochs', '2', '--checkpoint-every', '1', ...remote, '--devices', 'hostA/cpu:0,hostB/cpu:0', '--out', split]).then(ok),
  ]);
  expect(manifest(split).epoch).toBe(2);
  const resumed = ok(await runCli(['train', '--resume', split, '--epochs', '4', '--checkpoint-every', '1', ...remote, '--devices', 'hostB/cpu:0,hostA/cpu:0']));
  expect(resumed.stderr).toMatch(/resuming .*split at epoch 2\/4/);
  expect(manifest(split).epoch).toBe(4);
  expect(manifest(split).trainLosses).toEqual(manifest(whole).trainLosses);
  const [got, expected] = [checkpointFiles(split), checkpointFiles(whole)];
  expect(Object.keys(got).filter((k) => k.endsWith('.params.f32'))).toHaveLength(3);
  expect(got).toEqual(expected);
  // Both halves ran on the worker hosts: each served two coordinators.
  for (const h of hosts) expect(h.lines.filter((l) => /coordinator .* connected/.test(l))).toHaveLength(2);
});

/** Row 5's target is 1e20 (finite, but its squared error overflows float32): bootstrap makes only some particles meet it. */
async function nanRun(onNan: 'skip' | 'reinit', devices: string, remote: boolean): Promise<{ params: number[][]; losses: number[]; events: NanEvent[] }> {
  const data = regressionData(64, 4);
  data.y[5] = 1e20;
  const events: NanEvent[] = [];
  const opts: EnsembleOptions = {
    model: { format: 'push-ens/sequential', inputShape: [3], layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 1 }] },
    data,
    epochs: 3,
    particles: 6,
    batchSize: 16,
    bootstrap: true,
    seed: 11,
    onNan,
    devices,
    nats: remote ? nats : undefined,
    onEpoch: (r) => void events.push(...r.nanEvents),
  };
  const post = await trainDeepEnsemble(opts);
  try {
    return { params: (await post.particleParameters()).map((p) => Array.from(p)), losses: post.info.trainLosses!, events };
  } finally {
    await post.close();
  }
}

test.each(['skip', 'reinit'] as const)('onNan %s on worker hosts reports the same events and gives the same parameters as locally', async (policy) => {
  const [local, remote] = await Promise.all([nanRun(policy, 'cpu:0,cpu:1', false), nanRun(policy, 'hostA/cpu:0,hostB/cpu:0', true)]);
  const hit = new Set(local.events.map((e) => e.pid));
  expect(hit.size).toBeGreaterThan(0);
  expect(hit.size).toBeLessThan(6); // some particles met the bad row, some did not
  expect(local.events.every((e) => e.action === policy && e.loss === Infinity)).toBe(true);
  expect(remote.events).toEqual(local.events);
  expect(remote.losses).toEqual(local.losses);
  expect(remote.params).toEqual(local.params);
  expect(remote.params.flat().every(Number.isFinite)).toBe(true);
});

test('the particle cache on a worker host (4 particles, room for 2) swaps and trains exactly as locally without a cache', async () => {
  const D = 5;
  const rng = new Rng(9);
  const data = { x: rng.fillNormal(new Float32Array(64 * D)), xShape: [64, D], y: rng.fillNormal(new Float32Array(64)), yShape: [64, 1] };
  const train = async (devices: string, cacheSize?: number) => {
    const dist = await PushDist.create({ devices, model: biggerNN(2, D), cacheSize, seed: 21, nats: devices.includes('/') ? nats : undefined });
    try {
      for (let i = 0; i < 4; i++) dist.createParticle({ optimizer: { type: 'adam', lr: 0.01 } });
      const pids = dist.particleIds();
      await dist.launch(0, 'pushSetData', 'train', data);
      await dist.launch(0, 'pushTrainEpochs', { key: 'train', batchSize: 16, loss: 'mse', seed: 4, pids, epochs: [0, 1] });
      const params = await Promise.all(pids.map((pid) => dist.parameters(pid)));
      const [stats] = await dist.stats();
      return { params: params.map((p) => Array.from(p)), stats };
    } finally {
      await dist.close();
    }
  };
  const [local, cached] = await Promise.all([train('cpu:0'), train('hostA/cpu:0', 2)]);
  expect(cached.stats).toMatchObject({ transport: 'nats', particles: 4 });
  expect(cached.stats.resident).toBeLessThanOrEqual(2);
  expect(cached.stats.swaps).toBeGreaterThan(0);
  expect(local.stats.swaps).toBe(0);
  expect(cached.params).toEqual(local.params);
});
