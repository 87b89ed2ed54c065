// The direct dense pass for wide ReLU/linear stacks (dense-direct.ts): which
// networks take it, gradients equal autodiff's per particle through a
// ParticleGroup (shared and per-particle batches, output offsets, standalone
// ReLU layers, mse, cross-entropy and a loss computed with tfjs ops), every
// runner gives the same numbers, the host losses and the fused ReLU/bias
// gradient kernel agree with tfjs ops, and nothing leaks.
import { tf, useBackend } from '../../src/util/tf';
import { compileModel, dense, biggerNN, sequential, parseLoss } from '../../src/nn';
import { FOLDED_MAX_LAYER, foldedSupported } from '../../src/nn/dense-folded';
import { directBatch, directPass, directSupported } from '../../src/nn/dense-direct';
import { crossEntropyOnHost } from '../../src/nn/host-losses';
import { kernelRunner, RunnerKind } from '../../src/nn/kernel-runner';
import { withRunner } from '../../src/nn/dense-stack';
import { expectGroupGradsMatchAutodiff, expectRunnersAgree, normalTensor } from './helpers';

afterAll(() => useBackend('wasm'));

const WIDE = Math.floor(FOLDED_MAX_LAYER / 8) + 1; // one layer 8 x WIDE is too large for the folded pass

test('which networks take the direct pass', () => {
  expect(directSupported(compileModel(dense([784, 256, 256, 10])), true)).toBe(true);
  expect(directSupported(compileModel(dense([8, WIDE, 3])), true)).toBe(true);
  expect(foldedSupported(compileModel(dense([8, WIDE, 3])), true)).toBe(false);
  expect(directSupported(compileModel(biggerNN(10, 20)), true)).toBe(false); // small: the folded pass
  expect(directSupported(compileModel(dense([8, WIDE, 3], { activation: 'tanh' })), true)).toBe(false);
  const dropout = compileModel(dense([8, WIDE, 3], { dropout: 0.2 }));
  expect(directSupported(dropout, true)).toBe(false);
  expect(directSupported(dropout, false)).toBe(true);
});

describe.each(['wasm', 'cpu'] as const)('direct dense pass (%s)', (backend) => {
  beforeAll(() => useBackend(backend));

  const nets = {
    'dense, cross-entropy': { spec: dense([8, WIDE, 7, 3]), inputs: [8], outputs: 3, loss: 'cross-entropy' as const },
    'dense, mse': { spec: dense([8, WIDE, 2]), inputs: [8], outputs: 2, loss: 'mse' as const },
    'dense, bce (tfjs loss ops)': { spec: dense([8, WIDE, 2]), inputs: [8], outputs: 2, loss: 'bce' as const },
    'flatten then a standalone relu': {
      spec: sequential([2, 4], [{ type: 'flatten' }, { type: 'relu' }, { type: 'dense', units: WIDE }, { type: 'relu' }, { type: 'dense', units: 2 }]),
      inputs: [2, 4],
      outputs: 2,
      loss: 'mse' as const,
    },
  };

  test.each(Object.keys(nets))('%s: group gradients equal autodiff per particle (1e-5 relative), no leaks', (name) => {
    const { spec, inputs, outputs, loss: lossName } = nets[name as keyof typeof nets];
    const net = compileModel(spec);
    expect(directSupported(net, true)).toBe(true);
    expectGroupGradsMatchAutodiff(net, inputs, outputs, lossName);
  });

  test('every runner gives the same gradient, and frees its backend buffers', () => {
    const net = compileModel(dense([8, WIDE, 5, 3]));
    const params = net.initParams(4);
    const x = normalTensor([12, 8], 5);
    const loss = parseLoss('cross-entropy');
    const target = loss.prepareTarget(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32'), 3);
    expectRunnersAgree(net.numParams, (kind, grad) => {
      withRunner(kind, (run) => directPass(run, net, params, directBatch(net, x), target, loss, grad));
    });
    tf.dispose([x, target]);
  });

  test('runner kernels: matMul with bias, and the ReLU gradient with its column sums, against tfjs ops', () => {
    const a = normalTensor([1, 9, 5], 1);
    const b = normalTensor([1, 5, 4], 2);
    const bias = normalTensor([4], 3);
    const d = normalTensor([1, 9, 4], 4);
    const y = tf.tidy(() => tf.relu(normalTensor([1, 9, 4], 5)));
    const expected = tf.tidy(() => {
      const g = tf.mul(d, tf.step(y));
      return [tf.relu(tf.add(tf.matMul(a.reshape([9, 5]), b.reshape([5, 4])), bias)), g, tf.sum(g, [0, 1]), tf.sum(d, [0, 1])].map((t) => Array.from(t.dataSync()));
    });
    for (const kind of ['fastest', 'direct', 'engine'] as RunnerKind[]) {
      tf.tidy(() => {
        const run = kernelRunner(kind);
        try {
          const sums = new Float32Array(10);
          const mm = Array.from(run.values(run.matMulBias(a, b, bias, 'relu')).slice());
          const g = Array.from(run.values(run.reluGradSum(d, y, sums, 1)).slice());
          const colSums = Array.from(sums.slice(1, 5));
          expect(run.reluGradSum(d, null, sums, 6)).toBe(d); // no activation: d itself, sums only
          const dSums = Array.from(sums.slice(6, 10));
          [mm, g, colSums, dSums].forEach((got, i) => got.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 5)));
          expect(sums[0]).toBe(0);
          expect(sums[5]).toBe(0);
        } finally {
          run.dispose();
        }
      });
    }
    tf.dispose([a, b, bias, d, y]);
  });

  test('a NaN in a ReLU output still reaches the gradient and its bias sum', () => {
    const run = kernelRunner();
    try {
      const d = tf.ones([1, 2, 2]);
      const y = tf.tensor([0, NaN, 1, 1], [1, 2, 2]);
      const sums = new Float32Array(2);
      expect(Array.from(run.values(run.reluGradSum(d, y, sums, 0)))).toEqual([0, NaN, 1, 1]);
      expect(Array.from(sums)).toEqual([1, NaN]);
      tf.dispose([d, y]);
    } finally {
      run.dispose();
    }
  });
});

test('host cross-entropy: value and gradient as the tfjs ops, including extreme logits', () => {
  const loss = parseLoss('cross-entropy');
  const pred = tf.tensor2d([[1, 2, 3], [100, -100, 0], [-5, -5, -5], [0.5, 0.25, -1]]);
  const target = loss.prepareTarget(tf.tensor1d([2, 1, 0, 1], 'int32'), 3);
  const grad = new Float32Array(12);
  const value = crossEntropyOnHost(pred.dataSync() as Float32Array, target.dataSync() as Float32Array, 3, grad);
  expect(value).toBeCloseTo(loss.valueOf(pred, target).dataSync()[0], 4);
  const expected = Array.from(loss.gradOf(pred, target).dataSync());
  Array.from(grad).forEach((g, i) => expect(g).toBeCloseTo(expected[i], 6));
  tf.dispose([pred, target]);
});
