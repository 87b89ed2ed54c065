// The bias-folded dense pass (dense-folded.ts) and its kernel runners
// (kernel-runner.ts): which networks take it, gradients equal autodiff's per
// particle through a ParticleGroup (shared and per-particle batches, output
// offsets, standalone ReLU layers, mse and cross-entropy), the raw-wasm, direct
// and engine runners give the same numbers, NaN still propagates through the
// ReLU gradient, and nothing leaks (engine tensors or backend buffers).
import { tf, useBackend } from '../../src/util/tf';
import { ParticleGroup, compileModel, lossAndGrad, dense, biggerNN, sequential, parseLoss } from '../../src/nn';
import { FOLDED_MAX_LAYER, foldedBatch, foldedLossAndGrad, foldedSupported } from '../../src/nn/dense-folded';
import { kernelRunner, RunnerKind } from '../../src/nn/kernel-runner';
import { normalTensor, relDiff } from './helpers';

afterAll(() => useBackend('wasm'));

test('which networks take the folded pass', () => {
  expect(foldedSupported(compileModel(biggerNN(10, 20)), true)).toBe(true);
  expect(foldedSupported(compileModel(dense([12, 40, 24, 3])), true)).toBe(true);
  expect(foldedSupported(compileModel(dense([12, 40, 3], { activation: 'tanh' })), true)).toBe(false);
  const dropout = compileModel(dense([12, 40, 3], { dropout: 0.2 }));
  expect(foldedSupported(dropout, true)).toBe(false); // masks while training
  expect(foldedSupported(dropout, false)).toBe(true);
  const wide = Math.floor(FOLDED_MAX_LAYER / 10) + 1;
  expect(foldedSupported(compileModel(dense([10, wide, 2])), true)).toBe(false);
});

describe.each(['wasm', 'cpu'] as const)('folded dense pass (%s)', (backend) => {
  beforeAll(() => useBackend(backend));

  const nets = {
    biggerNN: { spec: biggerNN(3, 6), inputs: [6], outputs: 1, loss: 'mse' as const },
    'dense, cross-entropy': { spec: dense([5, 9, 7, 3]), inputs: [5], outputs: 3, loss: 'cross-entropy' as const },
    'flatten then a standalone relu': {
      spec: sequential([2, 3], [{ type: 'flatten' }, { type: 'relu' }, { type: 'dense', units: 5 }, { type: 'relu' }, { type: 'dense', units: 2 }]),
      inputs: [2, 3],
      outputs: 2,
      loss: 'mse' as const,
    },
  };

  test.each(Object.keys(nets))('%s: group gradients equal autodiff per particle (1e-5 relative), no leaks', (name) => {
    const { spec, inputs, outputs, loss: lossName } = nets[name as keyof typeof nets];
    const net = compileModel(spec);
    expect(foldedSupported(net, true)).toBe(true);
    const loss = parseLoss(lossName);
    const B = 16;
    const x = normalTensor([B, ...inputs], 3);
    const y = lossName === 'cross-entropy' ? tf.tensor1d(Array.from({ length: B }, (_, i) => i % outputs), 'int32') : normalTensor([B, outputs], 4);
    const perRow = [0, 1, 2].map((k) => ({ x: normalTensor([B, ...inputs], 10 + k), y }));
    const offsets = [0, 1, 2].map((k) => normalTensor([B, outputs], 20 + k));
    const group = new ParticleGroup(net, { seed: 9 });
    for (let p = 0; p < 3; p++) group.add();
    const rows = [2, 0, 1];
    for (const variant of ['shared', 'per-row', 'offsets'] as const) {
      const before = tf.memory().numTensors;
      const batches = variant === 'per-row' ? perRow : { x, y };
      const losses = group.computeGrads(rows, batches, loss, variant === 'offsets' ? { outputOffsets: offsets } : {});
      expect(tf.memory().numTensors).toBe(before);
      rows.forEach((r, k) => {
        const grad = new Float32Array(net.numParams);
        const params = net.materialize(group.row(r).params);
        const b = variant === 'per-row' ? perRow[k] : { x, y };
        const value = lossAndGrad(net, params, b.x, b.y, loss, grad, { method: 'autodiff', outputOffset: variant === 'offsets' ? offsets[k] : undefined });
        tf.dispose(params);
        expect(relDiff(group.row(r).grads, grad)).toBeLessThan(1e-5);
        expect(Math.max(...Array.from(grad, Math.abs))).toBeGreaterThan(1e-4); // not trivially zero
        expect(Math.abs(losses[k] - value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(value)));
      });
    }
    tf.dispose([x, y, ...perRow.map((b) => b.x), ...offsets]);
  });

  test('every runner gives the same gradient, and frees its backend buffers', () => {
    const net = compileModel(biggerNN(2, 7));
    const params = net.initParams(4);
    const x = normalTensor([12, 7], 5);
    const target = normalTensor([12, 1], 6);
    const loss = parseLoss('mse');
    const kinds: RunnerKind[] = ['fastest', 'direct', 'engine'];
    const dataIds = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const grads = kinds.map((kind) => {
      const grad = new Float32Array(net.numParams);
      const [tensorsBefore, idsBefore] = [tf.memory().numTensors, dataIds()];
      tf.tidy(() => {
        foldedLossAndGrad(net, params, foldedBatch(net, x), target, loss, grad, undefined, kind);
      });
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(dataIds()).toBe(idsBefore);
      return grad;
    });
    expect(Array.from(grads[1])).toEqual(Array.from(grads[0]));
    expect(relDiff(grads[2], grads[0])).toBeLessThan(1e-6);
    tf.dispose([x, target]);
  });

  test('runner kernels: matMul, transpose and ReLU gradient against tfjs ops', () => {
    const a = normalTensor([1, 9, 5], 1);
    const b = normalTensor([1, 5, 4], 2);
    const d = normalTensor([1, 9, 4], 3);
    const y = tf.tidy(() => tf.concat([tf.relu(normalTensor([1, 9, 4], 4)), tf.ones([1, 9, 1])], 2));
    const expected = tf.tidy(() => [tf.relu(tf.matMul(a.reshape([9, 5]), b.reshape([5, 4]))), tf.transpose(a, [0, 2, 1]), tf.mul(d, tf.step(tf.slice(y, [0, 0, 0], [1, 9, 4])))].map((t) => Array.from(t.dataSync())));
    for (const kind of ['fastest', 'direct', 'engine'] as RunnerKind[]) {
      tf.tidy(() => {
        const run = kernelRunner(kind);
        try {
          const got = [run.matMul(a, b, 'relu'), run.transpose(a), run.reluGrad(d, y)].map((t) => Array.from(run.values(t).slice()));
          got.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 5)));
        } finally {
          run.dispose();
        }
      });
    }
    tf.dispose([a, b, d, y]);
  });

  test('a NaN in a ReLU output still reaches the gradient, as with autodiff', () => {
    const run = kernelRunner();
    try {
      const d = tf.ones([1, 2, 2]);
      const y = tf.tensor([0, NaN, 1, 1, 2, 1], [1, 2, 3]); // the third column is the ones column d does not have
      expect(Array.from(run.values(run.reluGrad(d, y)))).toEqual([0, NaN, 1, 1]);
      tf.dispose([d, y]);
    } finally {
      run.dispose();
    }
  });
});
