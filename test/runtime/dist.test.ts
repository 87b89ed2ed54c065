// The coordinator with real device workers: threads and child processes.
import { PushDist } from '../../src/runtime/coordinator';
import { PushHandlerError, PushInputError, PushWorkerError } from '../../src/util/errors';
import { HANDLERS, SMALL_MODEL, SMALL_MODEL_PARAMS } from './helpers';

describe.each(['thread', 'process'] as const)('PushDist with %s workers', (isolation) => {
  let dist: PushDist;

  beforeAll(async () => {
    dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: SMALL_MODEL, handlers: HANDLERS, isolation, seed: 7 });
    for (let i = 0; i < 4; i++) dist.createParticle();
  });

  afterAll(async () => {
    await dist.close();
  });

  test('pids are 0..3, assigned round-robin over devices', async () => {
    expect(dist.particleIds()).toEqual([0, 1, 2, 3]);
    expect([0, 1, 2, 3].map((p) => dist.deviceOf(p))).toEqual(['cpu:0', 'cpu:1', 'cpu:0', 'cpu:1']);
    const who = await dist.launch<{ pid: number; device: string; others: number[] }>(3, 'whoami');
    expect(who).toEqual({ pid: 3, device: 'cpu:1', others: [0, 1, 2], all: [0, 1, 2, 3] });
  });

  test('callDevice runs a handler once on a device, which sees its local particles', async () => {
    expect(await dist.callDevice('cpu:1', 'deviceInfo')).toEqual({ pid: -1, device: 'cpu:1', local: [1, 3] });
    expect(await dist.callDevice('cpu:0', 'echo', 'a', 2)).toEqual(['a', 2]);
    await expect(dist.callDevice('cpu:0', 'boom')).rejects.toThrow(/handler "boom" failed on device cpu:0/);
    await expect(dist.callDevice('cpu:7', 'echo')).rejects.toThrow(/device "cpu:7" is not one of this PushDist's devices: cpu:0, cpu:1/);
  });

  test('arguments and typed arrays survive the trip', async () => {
    const out = await dist.launch<unknown[]>(1, 'echo', 1, 'two', { three: [3] }, Float32Array.from([4, 5]));
    expect(out.slice(0, 3)).toEqual([1, 'two', { three: [3] }]);
    expect(Array.from(out[3] as Float32Array)).toEqual([4, 5]);
  });

  test('futures resolve out of order', async () => {
    const order: number[] = [];
    const slow = dist.launch(0, 'sleepThen', 300, 'slow').then((v) => (order.push(0), v));
    const fast = dist.launch(2, 'sleepThen', 10, 'fast').then((v) => (order.push(2), v));
    expect(await dist.wait([slow, fast])).toEqual(['slow', 'fast']);
    expect(order).toEqual([2, 0]); // both on cpu:0: the worker interleaves handlers
  });

  test('particles message each other across devices and on the same device', async () => {
    expect(await dist.launch(0, 'relay', 1, 'echo', 'x')).toEqual(['x']); // cpu:0 -> cpu:1
    expect(await dist.launch(0, 'relay', 2, 'whoami')).toMatchObject({ pid: 2, device: 'cpu:0' }); // same device
    expect(await dist.launch(1, 'relay', 0, 'relay', 3, 'whoami')).toMatchObject({ pid: 3, device: 'cpu:1' }); // two hops
  });

  test('p.get returns another particle\'s parameters wherever it lives', async () => {
    const fromCoordinator = await dist.parameters(1);
    expect(fromCoordinator.length).toBe(SMALL_MODEL_PARAMS);
    const viaCpu0 = await dist.launch<{ params: Float32Array; grads: Float32Array }>(0, 'fetchParams', 1);
    expect(Array.from(viaCpu0.params)).toEqual(Array.from(fromCoordinator));
    expect(viaCpu0.grads.length).toBe(SMALL_MODEL_PARAMS);
    const own = await dist.parameters(0);
    expect(Array.from(own)).not.toEqual(Array.from(fromCoordinator)); // own seeds
  });

  test('a throwing handler rejects with the particle, message, device and worker stack; the runtime stays usable', async () => {
    const err: any = await dist.launch(3, 'boom').catch((e: unknown) => e as any);
    expect(err).toBeInstanceOf(PushHandlerError);
    expect(err.message).toBe('handler "boom" failed on particle 3 (cpu:1): kaboom from 3');
    expect(err.pid).toBe(3);
    expect(err.device).toBe('cpu:1');
    expect(err.stack).toMatch(/fixtures[\\/]handlers\.js/);
    // a failure reached through another particle names the inner handler
    const relayed: any = await dist.launch(0, 'relay', 3, 'boom').catch((e: unknown) => e as any);
    expect(relayed.message).toMatch(/kaboom from 3/);
    expect(await dist.launch(3, 'echo', 'still here')).toEqual(['still here']);
  });

  test('unknown messages and pids are errors', async () => {
    await expect(dist.launch(0, 'noSuchHandler')).rejects.toThrow(/unknown message "noSuchHandler": the handler modules export .*echo/);
    await expect(dist.launch(9, 'echo')).rejects.toThrow(PushInputError);
    await expect(dist.launch(0, 'relay', 42, 'echo')).rejects.toThrow(/unknown particle id 42/);
  });

  test('handler state persists per particle', async () => {
    await dist.launch(2, 'setState', 'k', { v: 1 });
    expect(await dist.launch(2, 'getState', 'k')).toEqual({ v: 1 });
    expect(await dist.launch(0, 'getState', 'k')).toBeUndefined();
  });

  test('a per-message timeout turns a handler that never answers into an error', async () => {
    const t0 = Date.now();
    await expect(dist.launchWithTimeout(1, 'hang', 200)).rejects.toThrow(/message "hang" to particle 1 on cpu:1 got no answer within 200 ms/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test('stats count particles and messages per device', async () => {
    const stats = await dist.stats();
    expect(stats.map((s) => s.device)).toEqual(['cpu:0', 'cpu:1']);
    expect(stats.map((s) => s.transport)).toEqual([isolation, isolation]);
    expect(stats[0].particles).toBe(2);
    expect(stats[0].messages).toBeGreaterThan(5);
    expect(stats[1].bytesMoved).toBeGreaterThan(0);
    expect(stats[0].bytesPerParticle).toBeGreaterThan(SMALL_MODEL_PARAMS * 4);
  });
});

describe('worker death', () => {
  test('a killed worker process rejects pending futures within 2 s naming the device; close still returns', async () => {
    const dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: SMALL_MODEL, handlers: HANDLERS, isolation: 'process' });
    dist.createParticle();
    dist.createParticle();
    await dist.launch(1, 'echo');
    const pending = dist.launch(1, 'hang');
    const waitingPeer = dist.launch(0, 'relay', 1, 'hang'); // cpu:0 waits on cpu:1
    const t0 = Date.now();
    process.kill(dist.workerPid('cpu:1')!, 'SIGKILL');
    const err: any = await pending.catch((e: unknown) => e as any);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err).toBeInstanceOf(PushWorkerError);
    expect(err.message).toMatch(/device cpu:1 worker died \(its process was killed by SIGKILL\); it held particles 1/);
    await expect(waitingPeer).rejects.toThrow(/cpu:1 worker died/);
    await expect(dist.launch(1, 'echo')).rejects.toThrow(/cpu:1 worker died/);
    expect(await dist.launch(0, 'echo', 'alive')).toEqual(['alive']); // the other device is fine
    await dist.close();
  });

  test('a worker thread that crashes rejects its futures within 2 s', async () => {
    const dist = await PushDist.create({ devices: ['cpu:0'], model: SMALL_MODEL, handlers: HANDLERS });
    dist.createParticle();
    const t0 = Date.now();
    const err: any = await dist.launch(0, 'crashWorker').catch((e: unknown) => e as any);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err).toBeInstanceOf(PushWorkerError);
    expect(err.message).toMatch(/device cpu:0 worker died .*worker crashed on purpose/);
    await dist.close();
  });

  test('close() twice and `await using` both work', async () => {
    {
      await using d = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL });
      d.createParticle();
      expect((await d.parameters(0)).length).toBe(SMALL_MODEL_PARAMS);
    }
    const d2 = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL });
    await d2.close();
    await d2.close();
    expect(() => d2.createParticle()).toThrow(/closed/);
  });
});

describe('create-time errors', () => {
  test('cuda:0 without tfjs-node-gpu fails with an install hint before any worker starts', async () => {
    await expect(PushDist.create({ devices: 'cpu:0,cuda:0', model: SMALL_MODEL })).rejects.toThrow(
      /cuda:0 needs @tensorflow\/tfjs-node-gpu, which is not installed, and .* visible here: to run now on the CPU use --devices cpu:0,cpu:1; for CUDA install `npm install @tensorflow\/tfjs-node-gpu@4\.22\.0`/,
    );
    await expect(PushDist.create({ devices: 'cpu:0', backend: 'tensorflow', model: SMALL_MODEL })).rejects.toThrow(/needs @tensorflow\/tfjs-node/);
  });

  test('bad options are rejected', async () => {
    await expect(PushDist.create({ devices: 'gpu0', model: SMALL_MODEL })).rejects.toThrow(/bad device "gpu0"/);
    await expect(PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, cacheSize: 0 })).rejects.toThrow(/bad cacheSize 0/);
    await expect(PushDist.create({ devices: 'cpu:0', model: { format: 'nope' } })).rejects.toThrow(PushInputError);
  });
});

describe('restarting a dead device', () => {
  test('a killed process device restarts with its particles restored from snapshots', async () => {
    const dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: SMALL_MODEL, handlers: HANDLERS, isolation: 'process' });
    try {
      for (let i = 0; i < 4; i++) dist.createParticle();
      const saved = new Map([[1, await dist.snapshot(1)]]);
      const fresh3 = await dist.parameters(3);
      process.kill(dist.workerPid('cpu:1')!, 'SIGKILL');
      await expect(dist.launch(1, 'hang')).rejects.toThrow(/cpu:1 worker died/);
      expect(dist.deadDevices()).toEqual([{ device: 'cpu:1', reason: 'its process was killed by SIGKILL', particles: [1, 3] }]);
      await expect(dist.restartDevice('cpu:0')).rejects.toThrow(/cpu:0 is alive/);
      await dist.restartDevice('cpu:1', saved);
      expect(dist.deadDevices()).toEqual([]);
      expect(Array.from(await dist.parameters(1))).toEqual(Array.from(saved.get(1)!.params));
      expect(Array.from(await dist.parameters(3))).toEqual(Array.from(fresh3)); // re-created from its seed
      expect(await dist.launch(0, 'relay', 3, 'whoami')).toMatchObject({ pid: 3, device: 'cpu:1' });
    } finally {
      await dist.close();
    }
  });
});
