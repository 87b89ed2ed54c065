// Device-resident groups: parameters, gradients and slots stay on the backend
// as [P, n] tensors between host sync points. After 20 steps they equal the
// host path within 1e-5 (Adam, AdamW, SGD with momentum; dense loop, batched
// and autodiff paths; subsets of rows, ascent, gradient scale); host reads and
// writes sync correctly; no tensors leak.
import { tf, useBackend } from '../../src/util/tf';
import { PushInputError } from '../../src/util/errors';
import { Batch, Network, ParticleGroup, biggerNN, compileModel, dense, resolveResident, sequential } from '../../src/nn';
import type { OptimizerInput } from '../../src/nn/optimizers';
import { maxAbsDiff, normalTensor } from './helpers';

afterAll(() => useBackend('wasm'));

function makeBatches(net: Network, count: number, size: number, seed: number): Batch[] {
  return Array.from({ length: count }, (_, i) => ({
    x: normalTensor([size, ...net.inputShape], seed + 2 * i),
    y: normalTensor([size, net.outputSize], seed + 2 * i + 1),
  }));
}

function pair(net: Network, optimizer: OptimizerInput, particles: number, extra: { batchedMatmul?: boolean } = {}): [ParticleGroup, ParticleGroup] {
  const make = (resident: boolean) => {
    const g = new ParticleGroup(net, { optimizer, seed: 4, resident, ...extra });
    for (let p = 0; p < particles; p++) g.add();
    return g;
  };
  return [make(false), make(true)];
}

/** Largest difference of parameters and every slot between the two groups (reads the resident one back). */
function stateDiff(host: ParticleGroup, resident: ParticleGroup): number {
  const a = host.size;
  let m = 0;
  for (let r = 0; r < a; r++) {
    const x = host.snapshot(r);
    const y = resident.snapshot(r);
    expect(y.meta).toEqual(x.meta);
    m = Math.max(m, maxAbsDiff(y.params, x.params), ...x.slots.map((s, i) => maxAbsDiff(y.slots[i], s)));
  }
  return m;
}

/** A LeNet-like net small enough for the pure-JS cpu backend's conv gradients. */
const smallConv = sequential(
  [8, 8, 1],
  [{ type: 'conv2d', filters: 3, kernelSize: 3, padding: 'same' }, { type: 'relu' }, { type: 'maxPool2d', poolSize: 2 }, { type: 'flatten' }, { type: 'dense', units: 10 }],
);

const OPTIMIZERS: [string, OptimizerInput][] = [
  ['adam', { type: 'adam', lr: 0.01 }],
  ['adamw', { type: 'adamw', lr: 0.01, weightDecay: 0.05 }],
  ['sgd momentum', { type: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }],
  ['sgd nesterov', { type: 'sgd', lr: 0.05, momentum: 0.8, nesterov: true }],
];

describe.each(['wasm', 'cpu'] as const)('resident equals host after 20 steps (%s)', (backend) => {
  beforeAll(() => useBackend(backend));

  test.each(OPTIMIZERS)('%s, BiggerNN(3, 16), 3 particles, per-row and shared batches', (_, optimizer) => {
    const net = compileModel(biggerNN(3, 16));
    const groups = pair(net, optimizer, 3);
    const batches = makeBatches(net, 3, 32, 11);
    for (let s = 0; s < 20; s++) for (const g of groups) g.step([0, 1, 2], s % 2 ? batches[1] : batches, 'mse');
    expect(groups[1].resident).toBe(true);
    expect(groups[1].residentCounters).toEqual({ uploads: 1, downloads: 0 }); // state stayed on the backend for all 20 steps
    expect(stateDiff(...groups)).toBeLessThan(1e-5);
    tf.dispose(batches.flatMap((b) => [b.x, b.y]));
  });

  test('batched matMul forced on, with dropout, row subsets, ascent and gradient scale', () => {
    const net = compileModel(dense([6, 16, 16, 2], { dropout: 0.2 }));
    const groups = pair(net, { type: 'adam', lr: 0.01 }, 3, { batchedMatmul: true });
    const [b] = makeBatches(net, 1, 24, 3);
    for (let s = 0; s < 20; s++) {
      for (const g of groups) {
        if (s % 5 === 4) g.step([2, 0], b, 'mse', { ascent: true, gradScale: 0.5 });
        else g.step([0, 1, 2], b, 'mse');
      }
    }
    expect(stateDiff(...groups)).toBeLessThan(1e-5);
    tf.dispose([b.x, b.y]);
  });

  test('autodiff path (small conv net, cross-entropy), 2 particles, 20 Adam steps', () => {
    const net = compileModel(smallConv);
    const groups = pair(net, { type: 'adam', lr: 1e-3 }, 2);
    const x = normalTensor([4, 8, 8, 1], 1);
    const y = tf.tensor1d([1, 7, 3, 0], 'int32');
    for (let s = 0; s < 20; s++) for (const g of groups) g.step([0, 1], { x, y }, 'cross-entropy');
    expect(stateDiff(...groups)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
  });
});

describe('host sync points (wasm)', () => {
  beforeAll(() => useBackend('wasm'));
  const net = compileModel(dense([4, 8, 1]));

  test('host writes (setParams, reinit, zero slots), applyUpdate, add and remove between steps keep both paths equal', () => {
    const groups = pair(net, { type: 'adam', lr: 0.02 }, 3);
    const [b] = makeBatches(net, 1, 16, 5);
    const direction = new Float32Array(2 * net.numParams).map((_, i) => Math.sin(i));
    for (let s = 0; s < 20; s++) {
      for (const g of groups) {
        g.step([0, 1, 2].slice(0, g.size), b, 'mse');
        if (s === 5) g.row(1).params.fill(0.1); // a host write: the next step must upload it
        if (s === 8) g.applyUpdate([2, 0], direction);
        if (s === 11) g.row(0).slots.forEach((sl) => sl.fill(0));
        if (s === 14) g.remove(1);
        if (s === 16) g.add();
      }
    }
    expect(stateDiff(...groups)).toBeLessThan(1e-5);
    // snapshot reads back without dropping the device copy
    const before = groups[1].residentCounters.uploads;
    groups[1].snapshot(0);
    groups[1].step([0, 1, 2], b, 'mse');
    expect(groups[1].residentCounters.uploads).toBe(before);
    tf.dispose([b.x, b.y]);
  });

  test('finiteGrads screens a non-finite gradient by a reduction; updateWithGrads updates only the good rows', () => {
    const groups = pair(net, { type: 'sgd', lr: 0.1 }, 3);
    const x = tf.tensor2d([[1, 2, 3, 4], [NaN, 0, 0, 0]]);
    const y = tf.tensor2d([[1], [2]]);
    for (const g of groups) {
      g.computeGrads([0, 1, 2], [{ x, y }, { x: tf.slice(x, 0, 1), y: tf.slice(y, 0, 1) }, { x, y }], 'mse');
      expect(g.finiteGrads([0, 1, 2])).toEqual([false, true, false]);
      g.updateWithGrads([1]);
    }
    expect(groups[1].residentCounters.downloads).toBe(0);
    expect(stateDiff(...groups)).toBeLessThan(1e-6);
    expect(groups[1].meta(0).step).toBe(0);
    tf.dispose([x, y]);
  });

  test('predict reads the resident parameters', () => {
    const groups = pair(net, { type: 'adam', lr: 0.05 }, 2);
    const [b] = makeBatches(net, 1, 8, 9);
    for (const g of groups) for (let s = 0; s < 3; s++) g.step([0, 1], b, 'mse');
    const [p0, p1] = groups.map((g) => g.predict([1, 0], b.x));
    expect(maxAbsDiff(p1.dataSync(), p0.dataSync())).toBeLessThan(1e-5);
    tf.dispose([p0, p1, b.x, b.y]);
  });

  test('resident option: auto follows the backend, bad values are refused', () => {
    expect(resolveResident(undefined)).toBe(false); // wasm
    expect(resolveResident('auto')).toBe(false);
    expect(resolveResident(true)).toBe(true);
    expect(() => new ParticleGroup(net, { resident: 'yes' as unknown as boolean })).toThrow(PushInputError);
    expect(() => new ParticleGroup(net, { resident: 'yes' as unknown as boolean })).toThrow(/resident "yes": expected true, false or "auto"/);
  });
});

describe.each(['wasm', 'cpu'] as const)('no tensor leaks in resident mode (%s)', (backend) => {
  beforeAll(() => useBackend(backend));

  test('numTensors stays flat across steps and returns to the start after dispose', () => {
    const net = compileModel(dense([5, 12, 1], { dropout: 0.1 }));
    const [b] = makeBatches(net, 1, 16, 2);
    const start = tf.memory().numTensors;
    const g = new ParticleGroup(net, { optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 }, resident: true, seed: 1 });
    for (let p = 0; p < 3; p++) g.add();
    g.step([0, 1, 2], b, 'mse');
    const afterFirst = tf.memory().numTensors;
    expect(afterFirst).toBe(start + 3); // params, grads, momentum_buffer
    for (let s = 0; s < 10; s++) {
      g.step(s % 2 ? [0, 1, 2] : [2, 0], b, 'mse', { gradScale: 2 });
      g.finiteGrads([1]);
      tf.dispose(g.predict([0], b.x));
    }
    expect(tf.memory().numTensors).toBe(afterFirst);
    g.dispose();
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([b.x, b.y]);
  });
});
