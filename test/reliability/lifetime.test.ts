// Device worker processes never outlive their coordinator, and a worker that
// stops answering is ended: a coordinator killed with SIGKILL (its busy worker
// notices from a watchdog thread), close() with a stopped worker, and the
// PushDist's timeoutMs, which takes a silent worker for dead and kills it.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PushDist } from '../../src/runtime/coordinator';
import { PushTimeoutError, PushWorkerError } from '../../src/util/errors';
import { HANDLERS, SMALL_MODEL } from '../runtime/helpers';
import { alive, sleep, waitFor } from '../cli/helpers';

jest.setTimeout(60000);

/** Compiled test/fixtures/coordinator.ts: a PushDist whose one process worker spins in a handler. */
const COORDINATOR = path.resolve(__dirname, '..', 'fixtures', 'coordinator.js');

/** Polls until `pid` is gone (exited or a zombie); returns the milliseconds it took, or Infinity after `limitMs`. */
async function goneWithin(pid: number, limitMs: number): Promise<number> {
  const t0 = Date.now();
  while (alive(pid)) {
    if (Date.now() - t0 > limitMs) return Infinity;
    await sleep(10);
  }
  return Date.now() - t0;
}

function workerPid(dist: PushDist, device: string): number {
  const pid = dist.workerPid(device);
  if (pid === undefined) throw new Error(`${device} has no worker process`);
  return pid;
}

test('a coordinator killed with SIGKILL: its process worker, busy in a 30 s handler, exits within 1 s', async () => {
  const coordinator = spawn(process.execPath, [COORDINATOR, '30000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let worker = 0;
  try {
    let out = '';
    coordinator.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor(() => /worker \d+\n/.test(out), 30000, 'the worker pid');
    worker = Number(/worker (\d+)/.exec(out)![1]);
    await sleep(500); // the handler is running: the worker's main thread sees nothing else
    expect(alive(worker)).toBe(true);
    coordinator.kill('SIGKILL');
    const ms = await goneWithin(worker, 10000);
    // The watchdog looks every 200 ms; 1 s is the bound, the rest is slack for a loaded machine.
    expect(ms).toBeLessThan(1500);
  } finally {
    if (coordinator.exitCode === null && coordinator.signalCode === null) coordinator.kill('SIGKILL');
    if (worker && alive(worker)) process.kill(worker, 'SIGKILL');
  }
});

test('close() with a stopped (SIGSTOP) worker process kills it and returns', async () => {
  const dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: SMALL_MODEL, handlers: HANDLERS, isolation: 'process' });
  const stopped = workerPid(dist, 'cpu:1');
  const other = workerPid(dist, 'cpu:0');
  try {
    dist.createParticle();
    dist.createParticle();
    await dist.wait([dist.launch(0, 'echo'), dist.launch(1, 'echo')]);
    process.kill(stopped, 'SIGSTOP');
    const t0 = Date.now();
    await dist.close();
    // 2 s for an answer to "close", then SIGKILL at once (no second grace period for a worker that did not answer).
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(await goneWithin(stopped, 1000)).toBeLessThan(1000);
    expect(await goneWithin(other, 1000)).toBeLessThan(1000);
  } finally {
    if (alive(stopped)) process.kill(stopped, 'SIGKILL');
  }
});

describe('timeoutMs', () => {
  test('a stopped worker fails its message within the timeout, is killed at once, and restartDevice brings the device back', async () => {
    const dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: SMALL_MODEL, handlers: HANDLERS, isolation: 'process', timeoutMs: 2000 });
    const stopped = workerPid(dist, 'cpu:1');
    try {
      dist.createParticle();
      dist.createParticle();
      dist.createParticle();
      await dist.wait([0, 1, 2].map((pid) => dist.launch(pid, 'echo')));
      process.kill(stopped, 'SIGSTOP');
      const t0 = Date.now();
      const [timedOut, alsoOnIt] = await Promise.all([dist.launch(1, 'echo').catch((e: unknown) => e), dist.parameters(1).catch((e: unknown) => e)]);
      const ms = Date.now() - t0;
      expect(timedOut).toBeInstanceOf(PushTimeoutError);
      expect((timedOut as Error).message).toBe('message "echo" to particle 1 on cpu:1 got no answer within 2000 ms');
      expect(ms).toBeGreaterThanOrEqual(1990);
      expect(ms).toBeLessThan(3000); // the timeout plus 1 s
      // The device counts as dead: its other messages fail as for a death, its worker is gone.
      expect(alsoOnIt).toBeInstanceOf(PushWorkerError);
      expect((alsoOnIt as Error).message).toBe('device cpu:1 worker died (killed after no answer within 2000 ms); it held particles 1');
      expect(dist.deadDevices()).toEqual([{ device: 'cpu:1', reason: 'killed after no answer within 2000 ms', particles: [1] }]);
      expect(await goneWithin(stopped, 1000)).toBeLessThan(1000);
      await expect(dist.launch(1, 'echo')).rejects.toThrow(/cpu:1 worker died \(killed after no answer/);
      expect(await dist.launch(0, 'echo', 'fine')).toEqual(['fine']);

      await dist.restartDevice('cpu:1');
      expect(workerPid(dist, 'cpu:1')).not.toBe(stopped);
      expect(await dist.launch(1, 'echo', 'back')).toEqual(['back']);
      expect(dist.deadDevices()).toEqual([]);
    } finally {
      await dist.close();
      if (alive(stopped)) process.kill(stopped, 'SIGKILL');
    }
  });

  test('a worker thread stuck in a handler is terminated the same way', async () => {
    const dist = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, handlers: HANDLERS, timeoutMs: 1500 });
    try {
      dist.createParticle();
      await dist.launch(0, 'echo');
      const t0 = Date.now();
      await expect(dist.launch(0, 'spin', 60000)).rejects.toThrow(PushTimeoutError);
      expect(Date.now() - t0).toBeLessThan(2500);
      expect(dist.deadDevices().map((d) => d.reason)).toEqual(['killed after no answer within 1500 ms']);
      await dist.restartDevice('cpu:0');
      expect(await dist.launch(0, 'echo', 1)).toEqual([1]);
    } finally {
      const t0 = Date.now();
      await dist.close();
      expect(Date.now() - t0).toBeLessThan(3000); // the spinning thread was terminated, not waited for
    }
  });

  test('launchWithTimeout only fails its call: the worker lives on', async () => {
    const dist = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, handlers: HANDLERS, isolation: 'process' });
    try {
      dist.createParticle();
      await expect(dist.launchWithTimeout(0, 'hang', 200)).rejects.toThrow(PushTimeoutError);
      expect(dist.deadDevices()).toEqual([]);
      expect(await dist.launch(0, 'echo', 'still here')).toEqual(['still here']);
    } finally {
      await dist.close();
    }
  });
});
