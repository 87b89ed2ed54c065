// The particle cache: more particles than cacheSize on a device.
import { PushDist } from '../../src/runtime/coordinator';
import { HANDLERS, SMALL_MODEL } from './helpers';

const X = { dtype: 'float32', shape: [4, 3], data: Float32Array.from([0.1, 0.2, 0.3, -1, 0.5, 2, 0.3, 0.3, -0.7, 1.2, -0.4, 0.9]) };
const Y = { dtype: 'float32', shape: [4, 1], data: Float32Array.from([1, -1, 0.5, 2]) };

/** Interleaves per-particle steps so that a small cache must swap. */
async function trainInterleaved(dist: PushDist, pids: number[], rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) for (const pid of pids) await dist.launch(pid, 'trainWire', 1, X, Y);
}

describe('particle cache', () => {
  test('with cacheSize 1, three particles swap, and train exactly as with no limit (params and Adam state)', async () => {
    const small = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, handlers: HANDLERS, cacheSize: 1, seed: 3 });
    const big = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, handlers: HANDLERS, seed: 3 });
    try {
      for (const d of [small, big]) for (let i = 0; i < 3; i++) d.createParticle({ optimizer: { type: 'adam', lr: 0.01 } });
      await trainInterleaved(small, [0, 1, 2], 4);
      await trainInterleaved(big, [0, 1, 2], 4);
      const [s] = await small.stats();
      expect(s.resident).toBeLessThanOrEqual(1);
      expect(s.swaps).toBeGreaterThanOrEqual(10);
      for (const pid of [0, 1, 2]) {
        const a = await small.snapshot(pid);
        const b = await big.snapshot(pid);
        expect(a.step).toBe(4);
        expect(Array.from(a.params)).toEqual(Array.from(b.params));
        expect(Array.from(a.slots.exp_avg)).toEqual(Array.from(b.slots.exp_avg));
        expect(Array.from(a.slots.exp_avg_sq)).toEqual(Array.from(b.slots.exp_avg_sq));
        expect(a.slots.exp_avg.some((v) => v !== 0)).toBe(true);
      }
    } finally {
      await small.close();
      await big.close();
    }
  });

  test('a particle is bit-identical after swapping out and back in', async () => {
    const dist = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, handlers: HANDLERS, cacheSize: 1 });
    try {
      dist.createParticle();
      dist.createParticle();
      await dist.launch(0, 'trainWire', 3, X, Y); // 0 resident, with Adam state
      const before = await dist.snapshot(0);
      const out0 = await dist.launch<{ data: Float32Array }>(0, 'predictWire', X);
      await dist.launch(1, 'trainWire', 1, X, Y); // evicts 0
      const out1 = await dist.launch<{ data: Float32Array }>(0, 'predictWire', X); // swaps 0 back in
      const after = await dist.snapshot(0);
      expect(Array.from(after.params)).toEqual(Array.from(before.params));
      expect(Array.from(after.grads)).toEqual(Array.from(before.grads));
      expect(Array.from(after.slots.exp_avg_sq)).toEqual(Array.from(before.slots.exp_avg_sq));
      expect(Array.from(out1.data)).toEqual(Array.from(out0.data));
      expect((await dist.stats())[0].swaps).toBeGreaterThanOrEqual(2);
    } finally {
      await dist.close();
    }
  });
});
