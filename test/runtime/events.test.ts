// One-way events from handlers (p.emit) to PushDist.onEvent listeners, on
// worker threads and child processes: delivered in order, before the result of
// the handler that sent them; unsendable values rejected; a throwing listener
// reported once and the dist unharmed; unsubscribing stops delivery.
import { PushDist, WorkerEvent } from '../../src/runtime/coordinator';
import { HANDLERS, SMALL_MODEL } from './helpers';

describe.each(['thread', 'process'])('handler events (%s)', (isolation) => {
  let dist: PushDist;

  beforeAll(async () => {
    dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: SMALL_MODEL, handlers: HANDLERS, isolation, timeoutMs: 20_000 });
    dist.createParticle();
    dist.createParticle();
  });

  afterAll(async () => {
    await dist?.close();
  });

  test('events arrive in order, from the right device, before the handler result', async () => {
    const seen: WorkerEvent[] = [];
    const off = dist.onEvent((e) => seen.push(e));
    try {
      const [a, b] = await Promise.all([dist.launch<number>(0, 'emitEvents', 'tick', 50), dist.launch<number>(1, 'emitEvents', 'tick', 30)]);
      expect([a, b]).toEqual([50, 30]);
      // No wait after the replies: every event came first.
      const fromPid = (pid: number) => seen.filter((e) => (e.value as { pid: number }).pid === pid);
      expect(fromPid(0).map((e) => (e.value as { i: number }).i)).toEqual([...Array(50).keys()]);
      expect(fromPid(1).map((e) => (e.value as { i: number }).i)).toEqual([...Array(30).keys()]);
      expect(new Set(fromPid(0).map((e) => e.device))).toEqual(new Set([dist.deviceOf(0)]));
      expect(new Set(fromPid(1).map((e) => e.device))).toEqual(new Set([dist.deviceOf(1)]));
      expect(seen.every((e) => e.name === 'tick')).toBe(true);
    } finally {
      off();
    }
    // Unsubscribed: nothing more arrives.
    await dist.launch(0, 'emitEvents', 'tick', 5);
    expect(seen.length).toBe(80);
  });

  test('an unsendable event value rejects the handler, naming p.emit', async () => {
    await expect(dist.launch(0, 'emitUnsendable')).rejects.toThrow(/p\.emit\("bad"\).*function/s);
  });

  test('a listener that throws is reported once; other listeners and later calls go on', async () => {
    // Observed on process.emitWarning: jest's sandboxed process does not see the real 'warning' event.
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const seen: number[] = [];
    const offBad = dist.onEvent(() => {
      throw new Error('listener broke');
    });
    const offGood = dist.onEvent((e) => seen.push((e.value as { i: number }).i));
    try {
      await dist.launch(1, 'emitEvents', 'tick', 10);
      await dist.launch(1, 'emitEvents', 'tick', 10);
      expect(seen).toHaveLength(20);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/event listener threw .*listener broke/);
      expect(await dist.launch(0, 'echo', 1)).toEqual([1]);
    } finally {
      offBad();
      offGood();
      warn.mockRestore();
    }
  });
});
