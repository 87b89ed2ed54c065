// The bias-folded dense pass (dense-folded.ts) and its kernel runners
// (kernel-runner.ts): which networks take it, gradients equal autodiff's per
// particle through a ParticleGroup (shared and per-particle batches, output
// offsets, standalone ReLU layers, mse and cross-entropy), the raw-wasm, direct
// and engine runners give the same numbers, NaN still propagates through the
// ReLU gradient, and nothing leaks (engine tensors or backend buffers).
import { tf, useBackend } from '../../src/util/tf';
import { compileModel, dense, biggerNN, sequential, parseLoss } from '../../src/nn';
import { FOLDED_MAX_LAYER, foldedBatch, foldedPass, foldedSupported } from '../../src/nn/dense-folded';
import { kernelRunner, RunnerKind } from '../../src/nn/kernel-runner';
import { withRunner } from '../../src/nn/dense-stack';
import { expectGroupGradsMatchAutodiff, expectRunnersAgree, normalTensor } from './helpers';

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
    expectGroupGradsMatchAutodiff(net, inputs, outputs, lossName);
  });

  test('every runner gives the same gradient, and frees its backend buffers', () => {
    const net = compileModel(biggerNN(2, 7));
    const params = net.initParams(4);
    const x = normalTensor([12, 7], 5);
    const target = normalTensor([12, 1], 6);
    const loss = parseLoss('mse');
    expectRunnersAgree(net.numParams, (kind, grad) => {
      withRunner(kind, (run) => foldedPass(run, net, params, foldedBatch(net, x), target, loss, grad));
    });
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
