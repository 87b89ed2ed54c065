// Faults of remote devices, with real worker host processes: a host killed
// (SIGKILL) or stopped (SIGSTOP) fails its particles' futures within 2 s of the
// heartbeat deadline, naming host and device; --restart-workers moves its
// particles to a surviving host and ends with the uninterrupted result; a
// coordinator that dies frees its devices for the next one; SIGTERM drains.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { connect } from 'nats';
import { trainDeepEnsemble } from '../../src/bayes';
import { PushDist } from '../../src/runtime/coordinator';
import { discoverWorkers } from '../../src/runtime/nats/remote';
import { dense } from '../../src/nn';
import { PushTimeoutError, PushWorkerError } from '../../src/util/errors';
import { regressionData, tempDir } from '../bayes/helpers';
import { FIXTURE_HANDLERS, NatsServer, sleep, startNatsServer, startWorker, stopAll } from './harness';

jest.setTimeout(120_000);

const DEADLINE_MS = 1500;
const MODEL = { format: 'push-ens/sequential', inputShape: [3], layers: [{ type: 'dense', units: 4 }] };
let server: NatsServer;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await stopAll();
});

const nats = () => ({ servers: server.url, heartbeatMs: 250, deadlineMs: DEADLINE_MS });

test.each(['SIGKILL', 'SIGSTOP'] as const)('a worker host stopped by %s fails its futures within 2 s of the deadline, naming host and device', async (signal) => {
  const host = await startWorker(server.url, `host${signal}`, 'cpu:0', ['--handlers', FIXTURE_HANDLERS]);
  const dist = await PushDist.create({ devices: [`host${signal}/cpu:0`, 'cpu:0'], model: MODEL, handlers: FIXTURE_HANDLERS, nats: nats() });
  try {
    dist.createParticle();
    dist.createParticle();
    await dist.parameters(0);
    const slow = dist.launch(0, 'slow', 60_000);
    const local = dist.launch(1, 'slow', 10);
    await sleep(200);
    const t0 = Date.now();
    process.kill(host.pid, signal);
    const err = await slow.catch((e) => e);
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(PushWorkerError);
    expect((err as Error).message).toMatch(new RegExp(`device host${signal}/cpu:0 worker died \\(no heartbeat from worker host host${signal} for \\d+ ms`));
    expect((err as Error).message).not.toContain('\n');
    expect(elapsed).toBeLessThan(DEADLINE_MS + 2000);
    expect(await local).toBe('done'); // the local device is unaffected
    expect(dist.deadDevices().map((d) => d.device)).toEqual([`host${signal}/cpu:0`]);
  } finally {
    await dist.close();
    await host.stop('SIGKILL');
  }
});

test('timeoutMs kills a remote device that does not answer; its host frees the session and restartDevice opens a new one there', async () => {
  const host = await startWorker(server.url, 'hostTO', 'cpu:0', ['--handlers', FIXTURE_HANDLERS]);
  const dist = await PushDist.create({ devices: 'hostTO/cpu:0', model: MODEL, handlers: FIXTURE_HANDLERS, nats: nats(), timeoutMs: 800 });
  try {
    dist.createParticle();
    const err = await dist.launch(0, 'slow', 30_000).catch((e) => e);
    expect(err).toBeInstanceOf(PushTimeoutError);
    expect(dist.deadDevices().map((d) => d.device)).toEqual(['hostTO/cpu:0']);
    await host.waitForLine(/coordinator .* left \(coordinator: killed by the coordinator\)/);
    await dist.restartDevice('hostTO/cpu:0');
    expect(await dist.launch<{ os: number }>(0, 'whereAmI')).toMatchObject({ device: 'hostTO/cpu:0', os: host.pid });
  } finally {
    await dist.close();
    await host.stop('SIGKILL');
  }
});

test('a coordinator killed with SIGKILL frees its device within the deadline for the next coordinator', async () => {
  const host = await startWorker(server.url, 'hostC', 'cpu:0');
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'coordinator-child.js'), server.url, 'hostC/cpu:0', String(DEADLINE_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`coordinator child exited with ${code}`)));
    });
    // Busy while the first coordinator lives.
    const busy = await PushDist.create({ devices: 'hostC/cpu:0', model: MODEL, nats: nats() }).catch((e) => e);
    expect(String(busy.message)).toMatch(/busy/);
    const t0 = Date.now();
    child.kill('SIGKILL');
    let dist: PushDist | undefined;
    while (!dist && Date.now() - t0 < DEADLINE_MS + 5000) {
      dist = await PushDist.create({ devices: 'hostC/cpu:0', model: MODEL, nats: nats() }).catch(() => undefined);
      if (!dist) await sleep(100);
    }
    expect(dist).toBeDefined();
    expect(Date.now() - t0).toBeLessThan(DEADLINE_MS + 2000);
    dist!.createParticle();
    expect((await dist!.parameters(0)).length).toBe(16);
    await dist!.close();
    await host.waitForLine(/coordinator .* left \(coordinator: no heartbeat/);
  } finally {
    child.kill('SIGKILL');
    await host.stop('SIGKILL');
  }
});

test('restartWorkers moves the particles of a killed host to a free device of another host; the result equals an uninterrupted run', async () => {
  const data = regressionData(64, 4);
  const base = { model: dense([3, 12, 1]), data, epochs: 6, batchSize: 16, particles: 4, seed: 3 };
  const local = await trainDeepEnsemble({ ...base, devices: 'cpu:0' });
  const expected = await local.particleParameters();
  await local.close();
  const [r1, r2] = await Promise.all([startWorker(server.url, 'hostR1', 'cpu:0'), startWorker(server.url, 'hostR2', 'cpu:0,cpu:1')]);
  const { dir, cleanup } = tempDir('nats-restart');
  const restarts: { device: string; reason: string; epoch: number }[] = [];
  try {
    let killed = false;
    const post = await trainDeepEnsemble({
      ...base,
      devices: 'hostR1/cpu:0,hostR2/cpu:0',
      nats: nats(),
      checkpoint: { dir, every: 1 },
      restartWorkers: 1,
      onWorkerRestart: (r) => void restarts.push(r),
      onEpoch: async ({ epoch }) => {
        if (epoch === 3 && !killed) {
          killed = true;
          process.kill(r1.pid, 'SIGKILL');
        }
      },
    });
    try {
      const got = await post.particleParameters();
      for (let k = 0; k < 4; k++) expect(Array.from(got[k])).toEqual(Array.from(expected[k]));
      expect(restarts).toHaveLength(1);
      expect(restarts[0].device).toBe('hostR1/cpu:0');
      expect(restarts[0].reason).toMatch(/no heartbeat from worker host hostR1/);
      expect(restarts[0].epoch).toBeGreaterThanOrEqual(3);
      // hostR1's particles now live on hostR2's other device: both of its devices are in use.
      const nc = await connect({ servers: server.url });
      const adverts = await discoverWorkers(nc, 500);
      await nc.close();
      const r2ad = adverts.find((a) => a.host === 'hostR2')!;
      expect(r2ad.devices.map((d) => d.free)).toEqual([0, 0]);
      expect(adverts.find((a) => a.host === 'hostR1')).toBeUndefined();
    } finally {
      await post.close();
    }
  } finally {
    cleanup();
    await Promise.all([r1.stop(), r2.stop()]);
  }
});

test('SIGTERM drains a worker host: it takes no new session, waits for the open one, then exits 0', async () => {
  const host = await startWorker(server.url, 'hostT', 'cpu:0,cpu:1', ['--drain-ms', '20000', '--handlers', FIXTURE_HANDLERS]);
  const dist = await PushDist.create({ devices: 'hostT/cpu:0', model: MODEL, handlers: FIXTURE_HANDLERS, nats: nats() });
  dist.createParticle();
  const slow = dist.launch(0, 'slow', 1500);
  await sleep(100);
  host.proc.kill('SIGTERM');
  await host.waitForLine(/draining/);
  const refused = await PushDist.create({ devices: 'hostT/cpu:1', model: MODEL, nats: nats() }).catch((e) => e);
  expect(String(refused.message)).toMatch(/worker host hostT is shutting down/);
  expect(await slow).toBe('done');
  await dist.close();
  const code = await new Promise((r) => (host.proc.exitCode !== null ? r(host.proc.exitCode) : host.proc.once('exit', r)));
  expect(code).toBe(0);
  expect(host.lines.some((l) => /stopped/.test(l))).toBe(true);
});
