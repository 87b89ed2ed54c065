// Gradients: the explicit dense backward pass agrees with autodiff; conv nets
// get gradients on wasm equal to cpu's (see conv-backward.test.ts for the conv path).
import { tf, useBackend } from '../../src/util/tf';
import { SequentialSpec, biggerNN, compileModel, dense, lenet, lossAndGrad, parseLoss, sequential } from '../../src/nn';
import { normalTensor, relDiff } from './helpers';

beforeAll(() => useBackend('wasm'));

function grads(spec: SequentialSpec, method: 'explicit' | 'autodiff', opts: { dropoutSeed?: number; offset?: boolean; gradScale?: number } = {}) {
  const net = compileModel(spec);
  const params = net.materialize(net.initParams(21));
  const x = normalTensor([32, ...net.inputShape], 1);
  const y = normalTensor([32, net.outputSize], 2);
  const offset = opts.offset ? normalTensor([32, net.outputSize], 3) : undefined;
  const grad = new Float32Array(net.numParams);
  const loss = lossAndGrad(net, params, x, y, parseLoss('mse'), grad, { method, dropoutSeed: opts.dropoutSeed, outputOffset: offset, gradScale: opts.gradScale });
  tf.dispose([...params, x, y, ...(offset ? [offset] : [])]);
  return { loss, grad };
}

describe('explicit backward equals autodiff (1e-5 relative)', () => {
  const specs: [string, SequentialSpec][] = [
    ['biggerNN(10, 20)', biggerNN(10, 20)],
    ['mlp with tanh', dense([20, 32, 32, 3], { activation: 'tanh' })],
    ['mlp with dropout (same mask)', dense([20, 64, 64, 2], { dropout: 0.3 })],
    ['mlp with gelu', dense([20, 16, 2], { activation: 'gelu' })],
    ['mlp with elu', dense([20, 16, 2], { activation: 'elu' })],
    ['mlp with sigmoid and dropout', dense([20, 16, 2], { activation: 'sigmoid', dropout: 0.2 })],
  ];
  test.each(specs)('%s', (_name, spec) => {
    const a = grads(spec, 'explicit', { dropoutSeed: 99 });
    const b = grads(spec, 'autodiff', { dropoutSeed: 99 });
    expect(a.loss).toBeCloseTo(b.loss, 5);
    expect(relDiff(a.grad, b.grad)).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(b.grad).map(Math.abs))).toBeGreaterThan(1e-3); // not trivially zero
  });

  test('dropout seeds change the gradient; outputOffset and gradScale apply on both paths', () => {
    const spec = dense([20, 64, 2], { dropout: 0.5 });
    expect(relDiff(grads(spec, 'explicit', { dropoutSeed: 1 }).grad, grads(spec, 'explicit', { dropoutSeed: 2 }).grad)).toBeGreaterThan(1e-2);
    const plain = grads(spec, 'explicit', { dropoutSeed: 1 });
    const shifted = grads(spec, 'explicit', { dropoutSeed: 1, offset: true });
    expect(shifted.loss).not.toBeCloseTo(plain.loss, 3);
    expect(relDiff(shifted.grad, grads(spec, 'autodiff', { dropoutSeed: 1, offset: true }).grad)).toBeLessThan(1e-5);
    const scaled = grads(spec, 'explicit', { dropoutSeed: 1, gradScale: -3 });
    expect(scaled.loss).toBeCloseTo(plain.loss, 6);
    expect(relDiff(scaled.grad, Float32Array.from(plain.grad, (g) => -3 * g))).toBeLessThan(1e-6);
  });

  test('method "explicit" on a conv net with "same" pooling is a one-line error', () => {
    const spec = sequential([8, 8, 1], [{ type: 'maxPool2d', poolSize: 2, padding: 'same' }, { type: 'flatten' }, { type: 'dense', units: 2 }]);
    expect(() => grads(spec, 'explicit')).toThrow(/needs a dense stack/);
  });
});

test('lenet gradients on wasm equal those on cpu (conv filter gradient kernel registered for wasm)', async () => {
  const net = compileModel(lenet());
  const row = net.initParams(4);
  const run = () => {
    const params = net.materialize(row);
    const x = normalTensor([8, 28, 28, 1], 5);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
    const grad = new Float32Array(net.numParams);
    const loss = lossAndGrad(net, params, x, y, parseLoss('cross-entropy'), grad);
    tf.dispose([...params, x, y]);
    return { loss, grad };
  };
  const wasm = run();
  await useBackend('cpu');
  const cpu = run();
  await useBackend('wasm');
  expect(wasm.loss).toBeCloseTo(cpu.loss, 5);
  for (const e of net.layout) {
    const a = wasm.grad.subarray(e.offset, e.offset + e.size);
    const b = cpu.grad.subarray(e.offset, e.offset + e.size);
    expect(relDiff(a, b)).toBeLessThan(1e-4);
  }
});
