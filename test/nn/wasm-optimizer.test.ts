// The wasm SIMD optimizer kernels (src/nn/wasm/optim.wat) against the JS loop
// they replace: Adam, AdamW, SGD variants, several rows with their own lr and
// step, row lengths that are not a multiple of 4; the JS fallback when forced
// off; a group's buffers across growth; and training on a real worker thread.
import { Rng } from '../../src/util/rng';
import { tf, useBackend } from '../../src/util/tf';
import { OptimizerInput, ParticleGroup, biggerNN, compileModel, createOptimizer } from '../../src/nn';
import { allocateHostBuffers, kernelFor, setWasmOptimizerEnabled, wasmOptimizerAvailable } from '../../src/nn/wasm/optim-kernel';
import { PushDist } from '../../src/runtime/coordinator';
import { normalTensor } from './helpers';

/**
 * max |a - b| / max |b|: float32 rounding errors scale with the operands' magnitude,
 * so an element that passes near zero would make an elementwise relative error meaningless.
 */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}

interface Run {
  params: Float32Array;
  slots: Float32Array[];
}

/**
 * 20 updates of P = 3 rows of n values on one set of buffers: row 0 every step, row 1 from
 * step count 5 with its own lr, row 2 only on even updates (so rows have different step counts).
 */
function run(config: OptimizerInput, n: number, buffers: Float32Array[], maximize = false): Run {
  const opt = createOptimizer(config);
  const P = 3;
  const [params, grads, ...slots] = buffers;
  expect(slots.length).toBe(opt.slotNames.length);
  const rng = new Rng(11);
  rng.fillNormal(params.subarray(0, P * n));
  const steps = [0, 4, 0];
  for (let t = 0; t < 20; t++) {
    rng.fillNormal(grads.subarray(0, P * n), 0, 0.1);
    const rows = [0, 1, 2].filter((r) => r !== 2 || t % 2 === 0).map((row) => ({ row, lr: opt.config.lr * (1 + row), step: ++steps[row] }));
    opt.update(params, grads, slots, rows, n, { maximize });
  }
  return { params: params.slice(0, P * n), slots: slots.map((s) => s.slice(0, P * n)) };
}

const plain = (count: number, length: number) => Array.from({ length: count }, () => new Float32Array(length));

const CONFIGS: [string, OptimizerInput, boolean][] = [
  ['adam', { type: 'adam', lr: 0.01 }, false],
  ['adam, L2 weight decay, maximize', { type: 'adam', lr: 0.01, weightDecay: 0.1, betas: [0.8, 0.99], eps: 1e-6 }, true],
  ['adamw (decoupled decay)', { type: 'adamw', lr: 0.01, weightDecay: 0.05 }, false],
  ['sgd plain', { type: 'sgd', lr: 0.05 }, false],
  ['sgd, weight decay, maximize', { type: 'sgd', lr: 0.05, weightDecay: 0.01 }, true],
  ['sgd, momentum and dampening', { type: 'sgd', lr: 0.05, momentum: 0.9, dampening: 0.3 }, false],
  ['sgd, nesterov, weight decay', { type: 'sgd', lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 }, false],
  ['sgd, momentum, maximize', { type: 'sgd', lr: 0.05, momentum: 0.5 }, true],
];

describe('wasm SIMD optimizer kernels equal the JS loop (float32 tolerance)', () => {
  test('WebAssembly SIMD is available here, so the kernels are under test', () => {
    expect(wasmOptimizerAvailable()).toBe(true);
  });

  describe.each([1027, 7, 3])('rows of %i values', (n) => {
    test.each(CONFIGS)('%s: 20 steps, 3 rows with their own lr and step', (_, config, maximize) => {
      const slotCount = createOptimizer(config).slotNames.length;
      const wasmBufs = allocateHostBuffers(2 + slotCount, 3 * n);
      expect(kernelFor(wasmBufs)).not.toBeNull(); // the kernel path
      const jsBufs = plain(2 + slotCount, 3 * n);
      expect(kernelFor(jsBufs)).toBeNull(); // the JS loop
      const wasm = run(config, n, wasmBufs, maximize);
      const js = run(config, n, jsBufs, maximize);
      const errs = [relErr(wasm.params, js.params), ...wasm.slots.map((s, i) => relErr(s, js.slots[i]))];
      errs.forEach((e) => expect(e).toBeLessThan(1e-6)); // 7e-7 at most here (AdamW's params)
      // It moved: the comparison is not between two untouched copies.
      const start = new Float32Array(3 * n);
      new Rng(11).fillNormal(start);
      expect(relErr(wasm.params, start)).toBeGreaterThan(1e-3);
    });
  });

  test('buffers from different memories, or a plain array among them, take the JS loop', () => {
    const a = allocateHostBuffers(2, 8);
    const b = allocateHostBuffers(2, 8);
    expect(kernelFor([a[0], a[1]])).not.toBeNull();
    expect(kernelFor([a[0], b[1]])).toBeNull();
    expect(kernelFor([a[0], new Float32Array(8)])).toBeNull();
  });
});

describe('ParticleGroup host buffers', () => {
  beforeAll(() => useBackend('wasm'));
  afterEach(() => setWasmOptimizerEnabled(true));

  function train(kernels: boolean): { group: ParticleGroup; before: Float32Array } {
    setWasmOptimizerEnabled(kernels);
    const net = compileModel(biggerNN(3, 5));
    const group = new ParticleGroup(net, { optimizer: { type: 'adamw', lr: 0.01 }, seed: 3, initialCapacity: 1 });
    group.add();
    const kept = group.params; // a view of the first allocation
    group.add();
    group.add(); // capacity 1 -> 2 -> 4: reallocated and copied twice
    expect(kept.length).toBe(net.numParams); // the old memory was replaced, never grown: no detached view
    const before = group.params.slice();
    const x = normalTensor([16, 5], 1);
    const y = normalTensor([16, 1], 2);
    for (let s = 0; s < 20; s++) group.step([0, 1, 2], { x, y }, 'mse');
    tf.dispose([x, y]);
    return { group, before };
  }

  test('a group keeps its rows in kernel memory across growth; forcing the JS fallback gives the same training', () => {
    const numTensors = tf.memory().numTensors;
    const fast = train(true);
    expect(kernelFor([fast.group.params, fast.group.grads, ...fast.group.slots])).not.toBeNull();
    const slow = train(false);
    expect(kernelFor([slow.group.params])).toBeNull();
    expect(Array.from(fast.before)).toEqual(Array.from(slow.before)); // same start after the copies
    expect(relErr(fast.group.params, fast.before)).toBeGreaterThan(1e-3); // it trained
    expect(relErr(fast.group.params, slow.group.params)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(numTensors);
  });
});

describe('on a worker thread', () => {
  async function trainOnWorker(): Promise<Float32Array[]> {
    const dist = await PushDist.create({ devices: 'cpu:0', model: biggerNN(2, 4), seed: 5 });
    try {
      for (let i = 0; i < 2; i++) dist.createParticle({ optimizer: { type: 'adam', lr: 0.01 } });
      const rng = new Rng(2);
      const data = { x: rng.fillNormal(new Float32Array(64 * 4)), xShape: [64, 4], y: rng.fillNormal(new Float32Array(64)), yShape: [64, 1] };
      const pids = dist.particleIds();
      await dist.launch(pids[0], 'pushSetData', 'train', data);
      await dist.launch(pids[0], 'pushTrainEpochs', { key: 'train', batchSize: 16, loss: 'mse', seed: 4, pids, epochs: [0, 1, 2] });
      return await Promise.all(pids.map((pid) => dist.parameters(pid)));
    } finally {
      await dist.close();
    }
  }

  test('training with the kernels matches PUSH_ENS_WASM_KERNELS=0 (the JS loop) to float32 tolerance', async () => {
    const fast = await trainOnWorker();
    const saved = process.env.PUSH_ENS_WASM_KERNELS;
    process.env.PUSH_ENS_WASM_KERNELS = '0'; // read by the worker thread at start
    let slow: Float32Array[];
    try {
      slow = await trainOnWorker();
    } finally {
      if (saved === undefined) delete process.env.PUSH_ENS_WASM_KERNELS;
      else process.env.PUSH_ENS_WASM_KERNELS = saved;
    }
    fast.forEach((p, i) => expect(relErr(p, slow[i])).toBeLessThan(1e-5));
    // float32 kernel arithmetic vs double-with-float32-storage: some bit differs, so both paths ran.
    expect(fast.some((p, i) => p.some((v, j) => v !== slow[i][j]))).toBe(true);
  });
});
