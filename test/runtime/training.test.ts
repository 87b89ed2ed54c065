// Stacked training through the built-in handlers, on real workers and backends.
import { biggerNN, dense } from '../../src/nn';
import { PushDist } from '../../src/runtime/coordinator';
import { Rng, particleSeed } from '../../src/util/rng';
import { WireTensor } from '../../src/runtime/wire';
import { trainDeepEnsemble } from '../../src/bayes';
import { batchOrderSeed, bootstrapSeed } from '../../src/bayes/seeds';
import { regressionData } from '../bayes/helpers';

const N = 64;
const D = 5;
const rng = new Rng(9);
const DATA = { x: rng.fillNormal(new Float32Array(N * D)), xShape: [N, D], y: rng.fillNormal(new Float32Array(N)), yShape: [N, 1] };
const MODEL = biggerNN(2, D);
const PLAN = { key: 'train', batchSize: 16, loss: 'mse', seed: 4 };

async function trainStacked(opts: { devices: string; backend?: string; cacheSize?: number; particles: number; epochs: number }): Promise<Float32Array[]> {
  const dist = await PushDist.create({ devices: opts.devices, model: MODEL, backend: opts.backend, cacheSize: opts.cacheSize, seed: 21 });
  try {
    for (let i = 0; i < opts.particles; i++) dist.createParticle({ optimizer: { type: 'adam', lr: 0.01 } });
    const byDevice = groupByDevice(dist);
    await Promise.all(byDevice.map((pids) => dist.launch(pids[0], 'pushSetData', 'train', DATA)));
    const epochs = Array.from({ length: opts.epochs }, (_, e) => e);
    await Promise.all(byDevice.map((pids) => dist.launch(pids[0], "pushTrainEpochs", { ...PLAN, pids, epochs })));
    return await Promise.all(dist.particleIds().map((pid) => dist.parameters(pid)));
  } finally {
    await dist.close();
  }
}

function groupByDevice(dist: PushDist): number[][] {
  const m = new Map<string, number[]>();
  for (const pid of dist.particleIds()) m.set(dist.deviceOf(pid), [...(m.get(dist.deviceOf(pid)) ?? []), pid]);
  return [...m.values()];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('stacked training on device workers', () => {
  test('the same seed gives the same initial weights on wasm and cpu backends', async () => {
    const [wasm, cpu] = await Promise.all([trainStacked({ devices: 'cpu:0', particles: 2, epochs: 0 }), trainStacked({ devices: 'cpu:0', backend: 'cpu', particles: 2, epochs: 0 })]);
    expect(Array.from(wasm[1])).toEqual(Array.from(cpu[1]));
    expect(maxAbsDiff(wasm[0], wasm[1])).toBeGreaterThan(0.01); // particles have their own seeds
  });

  test('training gives the same numbers on wasm and cpu backends (1e-4)', async () => {
    const wasm = await trainStacked({ devices: 'cpu:0', particles: 2, epochs: 3 });
    const cpu = await trainStacked({ devices: 'cpu:0', backend: 'cpu', particles: 2, epochs: 3 });
    const init = await trainStacked({ devices: 'cpu:0', particles: 2, epochs: 0 });
    expect(maxAbsDiff(wasm[0], init[0])).toBeGreaterThan(1e-3); // it trained
    expect(maxAbsDiff(wasm[0], cpu[0])).toBeLessThan(1e-4);
    expect(maxAbsDiff(wasm[1], cpu[1])).toBeLessThan(1e-4);
  });

  test('results do not depend on the device layout or the cache size', async () => {
    const one = await trainStacked({ devices: 'cpu:0', particles: 4, epochs: 2 });
    const two = await trainStacked({ devices: 'cpu:0,cpu:1', particles: 4, epochs: 2 });
    const cached = await trainStacked({ devices: 'cpu:0', particles: 4, epochs: 2, cacheSize: 3 });
    for (let p = 0; p < 4; p++) {
      expect(Array.from(two[p])).toEqual(Array.from(one[p]));
      expect(Array.from(cached[p])).toEqual(Array.from(one[p]));
    }
  });

  test('a stacked group step equals stepping each particle alone through p.step (1e-5)', async () => {
    const stacked = await trainStacked({ devices: 'cpu:0', particles: 3, epochs: 1 });
    const dist = await PushDist.create({ devices: 'cpu:0', model: MODEL, seed: 21 });
    try {
      for (let i = 0; i < 3; i++) dist.createParticle({ optimizer: { type: 'adam', lr: 0.01 } });
      await dist.launch(0, 'pushSetData', 'train', DATA);
      for (let batch = 0; batch < N / PLAN.batchSize; batch++) {
        for (const pid of [0, 1, 2]) await dist.launch(pid, 'pushStepOne', { ...PLAN, epoch: 0, batch });
      }
      for (const pid of [0, 1, 2]) expect(maxAbsDiff(await dist.parameters(pid), stacked[pid])).toBeLessThan(1e-5);
    } finally {
      await dist.close();
    }
  });

  test('no tensor leaks: the worker\'s tensor count stays flat across epochs', async () => {
    for (const isolation of ['thread', 'process']) {
      const dist = await PushDist.create({ devices: 'cpu:0', model: MODEL, isolation, cacheSize: 2 });
      try {
        for (let i = 0; i < 3; i++) dist.createParticle();
        await dist.launch(0, 'pushSetData', 'train', DATA);
        const counts: number[] = [];
        for (let epoch = 0; epoch < 4; epoch++) {
          await dist.launch(0, 'pushTrainEpochs', { ...PLAN, pids: [0, 1, 2], epochs: [epoch] });
          await dist.launch(0, 'pushPredict', { pids: [0, 1, 2], x: new WireTensor(DATA.x.slice(0, 2 * D), [2, D]) });
          counts.push(await dist.launch<number>(0, 'pushNumTensors'));
        }
        expect(new Set(counts.slice(1)).size).toBe(1);
      } finally {
        await dist.close();
      }
    }
  });
});

test('pushTrainEpochs with bootstrap trains each particle on its own fixed resample, as the deep ensemble does', async () => {
  const data = regressionData(40, 3);
  const model = dense([3, 4, 1]);
  const post = await trainDeepEnsemble({ model, data, epochs: 2, batchSize: 10, particles: 2, seed: 7, bootstrap: true, optimizer: { type: 'adam', lr: 0.01 } });
  const dist = await PushDist.create({ model, seed: 7 });
  try {
    for (let k = 0; k < 2; k++) dist.createParticle({ optimizer: { type: 'adam', lr: 0.01 } });
    await dist.launch(0, 'pushSetData', 'train', data);
    const seeds = [0, 1].map((k) => bootstrapSeed(particleSeed(7, k)));
    await dist.launch(0, 'pushTrainEpochs', { key: 'train', pids: [0, 1], epochs: [0, 1], batchSize: 10, loss: 'mse', seed: batchOrderSeed(7), bootstrapSeeds: seeds });
    const ours = await Promise.all([0, 1].map((pid) => dist.parameters(pid)));
    expect(ours).toEqual(await post.particleParameters());
  } finally {
    await dist.close();
    await post.close();
  }
});
