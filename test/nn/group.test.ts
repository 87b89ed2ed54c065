// ParticleGroup: a group step equals stepping each particle alone; batched and
// looped paths agree; rows grow, shrink and keep their state; no tensor leaks.
import { tf, useBackend } from '../../src/util/tf';
import { deriveSeed } from '../../src/util/rng';
import { PushInputError } from '../../src/util/errors';
import { Batch, Network, ParticleGroup, biggerNN, compileModel, createOptimizer, lenet, lossAndGrad, dense, parseLoss } from '../../src/nn';
import { maxAbsDiff, normalTensor, relDiff, values } from './helpers';

afterAll(() => useBackend('wasm'));

function makeBatches(net: Network, count: number, size: number, seed: number): Batch[] {
  return Array.from({ length: count }, (_, i) => ({
    x: normalTensor([size, ...net.inputShape], seed + 2 * i),
    y: normalTensor([size, net.outputSize], seed + 2 * i + 1),
  }));
}

/** The reference: one particle at a time, autodiff gradients, a one-row optimizer. */
function stepAlone(net: Network, start: Float32Array, batches: Batch[], lr: number, dropoutSeeds: number[]): Float32Array {
  const n = net.numParams;
  const row = start.slice();
  const grad = new Float32Array(n);
  const opt = createOptimizer({ type: 'adam', lr });
  const slots = opt.slotNames.map(() => new Float32Array(n));
  batches.forEach((b, s) => {
    const params = net.materialize(row);
    lossAndGrad(net, params, b.x, b.y, parseLoss('mse'), grad, { method: 'autodiff', dropoutSeed: dropoutSeeds[s] });
    tf.dispose(params);
    opt.update(row, grad, slots, [{ row: 0, lr, step: s + 1 }], n);
  });
  return row;
}

describe.each(['wasm', 'cpu'] as const)('group step equals stepping each particle alone (%s)', (backend) => {
  beforeAll(() => useBackend(backend));

  test('BiggerNN(10, 20), 3 particles, shared batches: parameters after 5 Adam steps agree to 1e-5', () => {
    const net = compileModel(biggerNN(10, 20));
    const group = new ParticleGroup(net, { optimizer: { type: 'adam', lr: 0.01 }, seed: 1 });
    for (let p = 0; p < 3; p++) group.add();
    const start = group.params.slice();
    const batches = makeBatches(net, 5, 64, 100);
    for (const b of batches) group.step([0, 1, 2], b, 'mse');
    for (let p = 0; p < 3; p++) {
      expect(group.meta(p).step).toBe(5);
      const alone = stepAlone(net, start.subarray(p * net.numParams, (p + 1) * net.numParams), batches, 0.01, []);
      expect(maxAbsDiff(group.row(p).params, alone)).toBeLessThan(1e-5);
      expect(maxAbsDiff(group.row(p).params, start.subarray(p * net.numParams, (p + 1) * net.numParams))).toBeGreaterThan(1e-3);
    }
    tf.dispose(batches.flatMap((b) => [b.x, b.y]));
  });

  test('mlp with dropout, one batch per particle, default per-row dropout seeds', () => {
    const net = compileModel(dense([6, 32, 32, 2], { dropout: 0.3 }));
    const group = new ParticleGroup(net, { optimizer: { type: 'adam', lr: 0.02 }, seed: 2 });
    for (let p = 0; p < 2; p++) group.add();
    const start = group.params.slice();
    const perParticle = [makeBatches(net, 5, 16, 10), makeBatches(net, 5, 16, 50)];
    for (let s = 0; s < 5; s++) group.step([1, 0], [perParticle[1][s], perParticle[0][s]], 'mse');
    for (let p = 0; p < 2; p++) {
      const seeds = [0, 1, 2, 3, 4].map((s) => deriveSeed(group.meta(p).seed, s));
      const alone = stepAlone(net, start.subarray(p * net.numParams, (p + 1) * net.numParams), perParticle[p], 0.02, seeds);
      expect(maxAbsDiff(group.row(p).params, alone)).toBeLessThan(1e-5);
    }
    tf.dispose(perParticle.flat().flatMap((b) => [b.x, b.y]));
  });
});

describe.each(['cpu', 'wasm'] as const)('batched matMul path, forced on (%s)', (backend) => {
  beforeAll(() => useBackend(backend));

  test('equals the per-particle loop: shared and per-particle batches, dropout, output offsets', () => {
    const net = compileModel(dense([5, 16, 16, 3], { activation: 'tanh', dropout: 0.2 }));
    const make = (batchedMatmul: boolean) => {
      const g = new ParticleGroup(net, { optimizer: { type: 'adamw', lr: 0.01 }, seed: 9, batchedMatmul });
      for (let p = 0; p < 3; p++) g.add();
      return g;
    };
    const batched = make(true);
    const loop = make(false);
    expect(batched.usesBatchedMatmul()).toBe(true);
    expect(loop.usesBatchedMatmul()).toBe(false);
    const shared = makeBatches(net, 2, 12, 1);
    const own = makeBatches(net, 3, 12, 20);
    const offsets = [0, 1, 2].map((i) => normalTensor([12, 3], 40 + i));
    const rows = [2, 0, 1];
    for (const g of [batched, loop]) {
      g.step(rows, shared[0], 'mse');
      g.step(rows, own, 'mse', { outputOffsets: offsets });
      g.step([1], shared[1], 'mse', { dropoutSeeds: [77] });
    }
    expect(maxAbsDiff(batched.params, loop.params)).toBeLessThan(1e-5);
    const lb = batched.computeGrads(rows, own, 'mse');
    const ll = loop.computeGrads(rows, own, 'mse');
    expect(maxAbsDiff(lb, ll)).toBeLessThan(1e-5);
    const pb = batched.predict(rows, shared[0].x);
    const pl = loop.predict(rows, shared[0].x);
    expect(pb.shape).toEqual([3, 12, 3]);
    expect(maxAbsDiff(values(pb), values(pl))).toBeLessThan(1e-5);
    tf.dispose([pb, pl, ...offsets, ...shared.flatMap((b) => [b.x, b.y]), ...own.flatMap((b) => [b.x, b.y])]);
  });
});

describe('group bookkeeping (wasm)', () => {
  beforeAll(() => useBackend('wasm'));
  const net = compileModel(dense([4, 8, 1]));

  test('add grows past capacity, initialises from the row seed, remove compacts rows and state', () => {
    const group = new ParticleGroup(net, { optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 }, initialCapacity: 1, seed: 3 });
    const rows = [0, 1, 2, 3, 4].map((i) => group.add(undefined, undefined, i === 4 ? { seed: 1234, lr: 0.5 } : {}));
    expect(rows).toEqual([0, 1, 2, 3, 4]);
    expect(group.size).toBe(5);
    expect(group.params.length).toBe(5 * net.numParams);
    expect(Array.from(group.row(4).params)).toEqual(Array.from(net.initParams(1234)));
    expect(group.meta(4)).toEqual({ lr: 0.5, step: 0, schedulerCount: 0, seed: 1234 });
    expect(group.meta(1).seed).toBe(deriveSeed(3, 1));
    group.row(2).slots[0].fill(7);
    const third = group.snapshot(2);
    group.remove(1);
    expect(group.size).toBe(4);
    expect(Array.from(group.row(1).params)).toEqual(Array.from(third.params));
    expect(group.row(1).slots[0].every((v) => v === 7)).toBe(true);
    expect(group.meta(1)).toEqual(third.meta);
    expect(() => group.row(4)).toThrow(PushInputError);
    expect(() => group.add(new Float32Array(3))).toThrow(/expected a Float32Array of 49/);
  });

  test('computeGrads + applyUpdate(grads) equals step; ascent climbs; scheduler sets the lr', () => {
    const make = () => {
      const g = new ParticleGroup(net, { optimizer: { type: 'sgd', lr: 0.1 }, scheduler: { type: 'step', stepSize: 1, gamma: 0.5 }, seed: 5 });
      g.add();
      g.add();
      return g;
    };
    const [x, y] = [normalTensor([8, 4], 1), normalTensor([8, 1], 2)];
    const a = make();
    const b = make();
    const losses = a.computeGrads([0, 1], { x, y }, 'mse');
    a.applyUpdate([0, 1], a.grads.slice());
    expect(Array.from(b.step([0, 1], { x, y }, 'mse'))).toEqual(Array.from(losses));
    expect(Array.from(a.params)).toEqual(Array.from(b.params));

    const lossBeforeAscent = a.computeGrads([0], { x, y }, 'mse')[0];
    a.schedulerStep([1]);
    expect(a.learningRate(0)).toBeCloseTo(0.1, 12);
    expect(a.learningRate(1)).toBeCloseTo(0.05, 12);
    const before = a.params.slice();
    a.step([0, 1], { x, y }, 'mse', { ascent: true });
    const n = net.numParams;
    for (const [r, lr] of [[0, 0.1], [1, 0.05]]) {
      const expected = Float32Array.from(before.subarray(r * n, (r + 1) * n), (p, i) => p + lr * a.row(r).grads[i]);
      expect(maxAbsDiff(a.row(r).params, expected)).toBeLessThan(1e-6);
    }
    expect(a.computeGrads([0], { x, y }, 'mse')[0]).toBeGreaterThan(lossBeforeAscent);
    tf.dispose([x, y]);
  });

  test('predict: [P, B, out], equal to network.forward; MC dropout masks follow the seeds', () => {
    const dnet = compileModel(dense([4, 32, 2], { dropout: 0.5 }));
    const group = new ParticleGroup(dnet, { seed: 8 });
    group.add();
    group.add();
    const x = normalTensor([5, 4], 3);
    const out = group.predict([1, 0], x);
    expect(out.shape).toEqual([2, 5, 2]);
    const params = dnet.materialize(group.row(0).params);
    const direct = dnet.forward(params, x);
    expect(maxAbsDiff(values(out).slice(10), values(direct))).toBeLessThan(1e-6);
    const mc = (seeds: number[]) => {
      const t = group.predict([0, 1], x, { training: true, dropoutSeeds: seeds });
      const v = values(t);
      t.dispose();
      return v;
    };
    expect(mc([1, 2])).toEqual(mc([1, 2]));
    expect(maxAbsDiff(mc([1, 2]), mc([3, 4]))).toBeGreaterThan(1e-3);
    tf.dispose([out, direct, x, ...params]);
  });

  test('bad arguments are one-line PushInputErrors', () => {
    const group = new ParticleGroup(net);
    group.add();
    const [x, y] = [tf.zeros([2, 4]), tf.zeros([2, 1])];
    expect(() => group.step([0, 0], { x, y }, 'mse')).toThrow(/repeat a row/);
    expect(() => group.step([0], [{ x, y }, { x, y }], 'mse')).toThrow(/got 2 batches for 1 particles/);
    expect(() => group.step([0], { x, y }, 'l1' as never)).toThrow(/unknown loss "l1"/);
    expect(() => group.applyUpdate([0], new Float32Array(3))).toThrow(/expected 1 rows of 49/);
    tf.dispose([x, y]);
  });
});

describe('no tensor leaks (wasm)', () => {
  beforeAll(() => useBackend('wasm'));

  test('20 group steps, grads, updates and predictions leave tf.memory().numTensors unchanged', () => {
    const net = compileModel(dense([20, 32, 32, 1], { dropout: 0.1 }));
    const group = new ParticleGroup(net, { seed: 1 });
    for (let p = 0; p < 4; p++) group.add();
    const batches = makeBatches(net, 4, 32, 7);
    const offsets = [0, 1, 2, 3].map((i) => normalTensor([32, 1], 60 + i));
    const before = tf.memory().numTensors;
    for (let s = 0; s < 20; s++) group.step([0, 1, 2, 3], s % 2 ? batches[0] : batches, 'mse', { outputOffsets: s % 3 ? undefined : offsets });
    group.applyUpdate([2], new Float32Array(net.numParams));
    tf.dispose(group.predict([0, 3], batches[1].x, { training: true }));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...offsets, ...batches.flatMap((b) => [b.x, b.y])]);
  });

  test('the conv path (LeNet, cross-entropy) does not leak either and matches lossAndGrad', () => {
    const net = compileModel(lenet());
    const group = new ParticleGroup(net, { seed: 2 });
    group.add();
    group.add();
    const x = normalTensor([4, 28, 28, 1], 1);
    const y = tf.tensor1d([1, 7, 3, 0], 'int32');
    const before = tf.memory().numTensors;
    const losses = group.computeGrads([0, 1], { x, y }, 'cross-entropy');
    group.step([0, 1], { x, y }, 'cross-entropy');
    expect(tf.memory().numTensors).toBe(before);
    const grad = new Float32Array(net.numParams);
    const p1 = group.snapshot(1);
    const fresh = new ParticleGroup(net, { seed: 2 });
    fresh.add();
    fresh.add();
    const params = net.materialize(fresh.row(1).params);
    const loss = lossAndGrad(net, params, x, y, parseLoss('cross-entropy'), grad);
    expect(loss).toBeCloseTo(losses[1], 5);
    expect(p1.meta.step).toBe(1);
    // step computed its gradient at the same starting point as computeGrads, before updating
    expect(relDiff(group.row(1).grads, grad)).toBeLessThan(1e-5);
    tf.dispose([...params, x, y]);
  });
});
