// Remote devices over a real nats-server, with worker hosts as separate OS
// processes: discovery, mixed remote and local devices, 40 MB messages through
// the chunked channel, handler modules by name only, protocol refusals, and
// the same posterior from one local device and from two worker hosts.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect } from 'nats';
import { trainDeepEnsemble, trainMCDropout, trainMultiSWAG, trainSVGD, Posterior } from '../../src/bayes';
import { PushDist } from '../../src/runtime/coordinator';
import { dense } from '../../src/nn';
import { PushInputError, PushWorkerError } from '../../src/util/errors';
import { regressionData, tempDir } from '../bayes/helpers';
import { CLI, FIXTURE_HANDLERS, NatsServer, WorkerProcess, startNatsServer, startWorker, stopAll } from './harness';

jest.setTimeout(120_000);

let server: NatsServer;
let hostA: WorkerProcess;
let hostB: WorkerProcess;

beforeAll(async () => {
  server = await startNatsServer();
  [hostA, hostB] = await Promise.all([
    startWorker(server.url, 'hostA', 'cpu:0', ['--handlers', FIXTURE_HANDLERS]),
    startWorker(server.url, 'hostB', 'cpu:0,cpu:1', ['--handlers', FIXTURE_HANDLERS]),
  ]);
});

afterAll(async () => {
  await stopAll();
});

const oneLine = (e: unknown) => {
  expect((e as Error).message).not.toContain('\n');
  return (e as Error).message;
};

test('push-ens devices --nats lists the worker hosts with devices, backends, free slots and versions', () => {
  const json = spawnSync(process.execPath, [CLI, 'devices', '--nats', server.url, '--json'], { encoding: 'utf8' });
  expect(json.status).toBe(0);
  const report = JSON.parse(json.stdout) as { protocol: number; workers: { host: string; protocol: number; version: string; devices: { device: string; free: number; slots: number; backends: string[] }[]; handlers: string[] }[] };
  expect(report.workers.map((w) => w.host)).toEqual(['hostA', 'hostB']);
  const b = report.workers[1];
  expect(b.devices.map((d) => d.device)).toEqual(['cpu:0', 'cpu:1']);
  expect(b.devices[0]).toMatchObject({ free: 1, slots: 1 });
  expect(b.devices[0].backends).toEqual(expect.arrayContaining(['wasm', 'cpu']));
  expect(b.protocol).toBe(report.protocol);
  expect(b.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(b.handlers).toEqual(['cluster-handlers']);
  const text = spawnSync(process.execPath, [CLI, 'devices', '--nats', server.url], { encoding: 'utf8' });
  expect(text.stdout).toMatch(/2 worker hosts/);
  expect(text.stdout).toMatch(/hostB\/cpu:1\s+wasm,cpu\S*\s+1\/1/);
});

test('remote and local devices mix; a 40 MB get between hosts and a 40 MB result arrive intact', async () => {
  // 1000 -> 5000 dense: 5,005,000 parameters, so a get (parameters and gradients) is 40 MB.
  const model = { format: 'push-ens/sequential', inputShape: [1000], layers: [{ type: 'dense', units: 5000 }] };
  const dist = await PushDist.create({ devices: ['hostA/cpu:0', 'hostB/cpu:0', 'cpu:0'], model, handlers: FIXTURE_HANDLERS, nats: { servers: server.url } });
  try {
    expect(dist.devices).toEqual(['hostA/cpu:0', 'hostB/cpu:0', 'cpu:0']);
    for (let i = 0; i < 3; i++) dist.createParticle();
    const where = await Promise.all([0, 1, 2].map((pid) => dist.launch<{ device: string; os: number }>(pid, 'whereAmI')));
    expect(where.map((w) => w.device)).toEqual(['hostA/cpu:0', 'hostB/cpu:0', 'cpu:0']);
    expect(where[0].os).toBe(hostA.pid);
    expect(where[1].os).toBe(hostB.pid);
    expect(where[2].os).toBe(process.pid);
    // Particle 1 (hostB) gets particle 0 (hostA): 40 MB across hosts, directly, not through the coordinator.
    const before = await dist.stats();
    const got = await dist.launch<{ length: number; sum: number }>(1, 'fetchOther', 0);
    const after = await dist.stats();
    expect(after[0].bytesMoved - before[0].bytesMoved).toBeLessThan(10_000);
    expect(after[1].bytesMoved - before[1].bytesMoved).toBeLessThan(10_000);
    // The local device gets the same particle through the coordinator: the same numbers.
    const viaCoordinator = await dist.launch<{ length: number; sum: number }>(2, 'fetchOther', 0);
    expect(got.length).toBe(5_005_000);
    expect(got).toEqual(viaCoordinator);
    expect(Number.isFinite(got.sum) && got.sum !== 0).toBe(true);
    const big = await dist.launch<Float32Array>(0, 'bigArray', 10_000_000);
    expect(big.length).toBe(10_000_000);
    expect([big[0], big[250], big[251], big[9_999_999]]).toEqual([0, 250, 0, 9_999_999 % 251]);
    const stats = await dist.stats();
    expect(stats.map((s) => s.transport)).toEqual(['nats', 'nats', 'thread']);
  } finally {
    await dist.close();
  }
  // The sessions ended: both hosts' devices are free again, and each host logged the coordinator once.
  expect(hostA.lines.filter((l) => /coordinator .* connected/.test(l))).toHaveLength(1);
  await hostA.waitForLine(/coordinator .* left \(closed by its coordinator\)/);
});

test('a module the worker host lacks, a missing host and a busy device each fail create() with one line', async () => {
  const { dir, cleanup } = tempDir('nats-handlers');
  try {
    const mine = path.join(dir, 'my-handlers.js');
    fs.writeFileSync(mine, 'exports.hello = () => "hi";\n');
    const missing = await PushDist.create({ devices: 'hostA/cpu:0', model: dense([3, 4, 1]), handlers: mine, nats: { servers: server.url } }).catch((e) => e);
    expect(missing).toBeInstanceOf(PushInputError);
    expect(oneLine(missing)).toMatch(/worker host hostA has no handler module "my-handlers" \(its --handlers: cluster-handlers\)/);
  } finally {
    cleanup();
  }
  const nohost = await PushDist.create({ devices: 'nohost/cpu:0', model: dense([3, 4, 1]), nats: { servers: server.url } }).catch((e) => e);
  expect(nohost).toBeInstanceOf(PushWorkerError);
  expect(oneLine(nohost)).toMatch(/no worker host named "nohost" answers/);
  const first = await PushDist.create({ devices: 'hostA/cpu:0', model: dense([3, 4, 1]), nats: { servers: server.url } });
  try {
    const busy = await PushDist.create({ devices: 'hostA/cpu:0,cpu:0', model: dense([3, 4, 1]), nats: { servers: server.url } }).catch((e) => e);
    expect(oneLine(busy)).toMatch(/device hostA\/cpu:0: worker host hostA refused: device hostA\/cpu:0 is busy \(1 of 1 sessions in use\)/);
  } finally {
    await first.close();
  }
  const noNats = await PushDist.create({ devices: 'hostA/cpu:0', model: dense([3, 4, 1]) }).catch((e) => e);
  expect(oneLine(noNats)).toMatch(/remote devices need NATS options/);
});

test('a coordinator and a worker host of different protocol versions refuse each other with one line', async () => {
  const nc = await connect({ servers: server.url });
  try {
    // A coordinator speaking protocol 99 asks hostA for a session.
    const req = { protocol: 99, version: '9.0.0', coordinator: 'AAAAAAAAAAAA', label: 'future', session: 'BBBBBBBBBBBB', device: 'cpu:0', heartbeatMs: 1000, deadlineMs: 10000 };
    const reply = JSON.parse(Buffer.from((await nc.request('pushens.host.hostA.open', Buffer.from(JSON.stringify(req)), { timeout: 5000 })).data).toString());
    expect(reply).toMatchObject({ ok: false, protocol: 1 });
    expect(reply.error).toMatch(/speaks push-ens NATS protocol 99, this worker host 1/);
    // A worker host speaking protocol 99 answers this coordinator.
    const sub = nc.subscribe('pushens.host.future.open', { callback: (_e, m) => m.respond(Buffer.from(JSON.stringify({ ok: true, protocol: 99, version: '9.0.0', host: 'future', device: 'cpu:0' }))) });
    await nc.flush();
    const err = await PushDist.create({ devices: 'future/cpu:0', model: dense([3, 4, 1]), nats: { servers: server.url } }).catch((e) => e);
    expect(err).toBeInstanceOf(PushInputError);
    expect(oneLine(err)).toBe('device future/cpu:0: worker host future speaks push-ens NATS protocol 99, this coordinator 1: run the same push-ens version on both');
    sub.unsubscribe();
    // Garbage on the open subject gets a refusal, not a crash.
    const junk = JSON.parse(Buffer.from((await nc.request('pushens.host.hostA.open', Buffer.from('{"protocol":1,"session":"../x"}'), { timeout: 5000 })).data).toString());
    expect(junk).toMatchObject({ ok: false });
  } finally {
    await nc.close();
  }
  expect(hostA.proc.exitCode).toBeNull();
});

test('same seed, same result: one local device and two worker hosts give bit-identical posteriors (all four algorithms); a checkpoint loads onto remote devices', async () => {
  const data = regressionData(64, 3);
  const base = { model: dense([3, 12, 1]), data, epochs: 3, batchSize: 16, particles: 4, seed: 11 };
  const nats = { servers: server.url };
  const params = async (p: Promise<Posterior>) => {
    const post = await p;
    try {
      return await post.particleParameters();
    } finally {
      await post.close();
    }
  };
  const local = await params(trainDeepEnsemble({ ...base, devices: 'cpu:0' }));
  const spread = await params(trainDeepEnsemble({ ...base, devices: 'hostA/cpu:0,hostB/cpu:0,hostB/cpu:1', nats }));
  for (let k = 0; k < 4; k++) expect(Array.from(spread[k])).toEqual(Array.from(local[k]));
  const svgdLocal = await params(trainSVGD({ ...base, epochs: 2, devices: 'cpu:0' }));
  const svgdSpread = await params(trainSVGD({ ...base, epochs: 2, devices: 'hostA/cpu:0,cpu:0,hostB/cpu:1', nats }));
  for (let k = 0; k < 4; k++) expect(Array.from(svgdSpread[k])).toEqual(Array.from(svgdLocal[k]));
  // MultiSWAG (moments kept in the workers) and MC dropout, briefly.
  const small = { ...base, particles: 2, epochs: 2 };
  for (const train of [(o: typeof small & { devices: string }) => trainMultiSWAG({ ...o, swagEpochs: 1 }), trainMCDropout]) {
    const a = await params(train({ ...small, devices: 'cpu:0' }));
    const b = await params(train({ ...small, devices: 'hostA/cpu:0,hostB/cpu:1', nats } as typeof small & { devices: string }));
    for (let k = 0; k < 2; k++) expect(Array.from(b[k])).toEqual(Array.from(a[k]));
  }

  const { dir, cleanup } = tempDir('nats-load');
  try {
    const post = await trainDeepEnsemble({ ...base, epochs: 1, devices: 'cpu:0', checkpoint: { dir } });
    const expected = await post.predict({ x: data.x.subarray(0, 90), xShape: [30, 3] }, { modes: ['mean', 'std'] });
    await post.close();
    const remote = await Posterior.load(dir, { devices: 'hostA/cpu:0,hostB/cpu:1', nats });
    try {
      const got = await remote.predict({ x: data.x.subarray(0, 90), xShape: [30, 3] }, { modes: ['mean', 'std'] });
      expect(Array.from(got.mean.data)).toEqual(Array.from(expected.mean.data));
      expect(Array.from(got.std.data)).toEqual(Array.from(expected.std.data));
      expect(remote.info.devices).toEqual(['hostA/cpu:0', 'hostB/cpu:1']);
    } finally {
      await remote.close();
    }
  } finally {
    cleanup();
  }
});
