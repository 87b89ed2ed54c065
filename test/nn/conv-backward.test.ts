// The explicit conv backward pass (conv-backward.ts) equals autodiff: 'same' and
// 'valid' padding, strides 1 and 2, several channel counts, fused and separate
// activations, max and average pooling, dropout; group steps of LeNet equal
// per-particle autodiff steps on wasm and cpu; 'same' pooling falls back to autodiff.
//
// The reference is autodiff on the cpu backend: tfjs-wasm's own conv gradients
// are wrong for some of these shapes (strided 'same' filter gradients, non-square
// 'same' input gradients), which the explicit path does not use.
import { tf, useBackend } from '../../src/util/tf';
import { LayerSpec, ParticleGroup, SequentialSpec, compileModel, lenet, lossAndGrad, parseLoss, sequential } from '../../src/nn';
import { normalTensor, relDiff } from './helpers';

afterAll(() => useBackend('wasm'));

/** blankRows: the first rows of every image are 0, so pools over them see tied windows. */
function grads(spec: SequentialSpec, method: 'explicit' | 'autodiff' | 'auto', batch = 6, blankRows = 0) {
  const net = compileModel(spec);
  const params = net.materialize(net.initParams(21));
  const x = tf.tidy(() => {
    const noise = normalTensor([batch, ...net.inputShape], 1);
    if (blankRows === 0) return noise;
    const [h, ...rest] = net.inputShape;
    const keep = tf.concat([tf.zeros([blankRows, ...rest]), tf.ones([h - blankRows, ...rest])]);
    return tf.mul(noise, keep);
  });
  const y = normalTensor([batch, net.outputSize], 2);
  const offset = normalTensor([batch, net.outputSize], 3);
  const grad = new Float32Array(net.numParams);
  const loss = lossAndGrad(net, params, x, y, parseLoss('mse'), grad, { method, dropoutSeed: 7, outputOffset: offset });
  tf.dispose([...params, x, y, offset]);
  return { loss, grad, net };
}

async function on<T>(backend: 'wasm' | 'cpu', f: () => T): Promise<T> {
  await useBackend(backend);
  return f();
}

const head: LayerSpec[] = [{ type: 'flatten' }, { type: 'dense', units: 3 }];
const cases: [string, SequentialSpec][] = [
  ['1 channel, 5x5 same, stride 1, relu, max pool', sequential([12, 12, 1], [{ type: 'conv2d', filters: 4, kernelSize: 5, padding: 'same' }, { type: 'relu' }, { type: 'maxPool2d', poolSize: 2 }, ...head])],
  ['3 channels, 3x3 same, stride 2, tanh', sequential([9, 9, 3], [{ type: 'conv2d', filters: 4, kernelSize: 3, stride: 2, padding: 'same' }, { type: 'tanh' }, ...head])],
  ['2 channels, [2,3] valid, strides [2,1], avg pool', sequential([9, 8, 2], [{ type: 'conv2d', filters: 5, kernelSize: [2, 3], stride: [2, 1] }, { type: 'avgPool2d', poolSize: 2, stride: 1 }, ...head])],
  ['two convs: same [3,2] + elu, then valid stride 2 + sigmoid, dropout', sequential([10, 10, 2], [
    { type: 'conv2d', filters: 3, kernelSize: [3, 2], padding: 'same' }, { type: 'elu' },
    { type: 'maxPool2d', poolSize: 2, stride: 1 },
    { type: 'conv2d', filters: 6, kernelSize: 3, stride: 2 }, { type: 'sigmoid' }, { type: 'dropout', rate: 0.3 }, ...head])],
  ['conv, gelu, max pool 3 stride 2, dense, relu, dense', sequential([11, 11, 4], [
    { type: 'conv2d', filters: 8, kernelSize: 3 }, { type: 'gelu' }, { type: 'maxPool2d', poolSize: 3, stride: 2 },
    { type: 'flatten' }, { type: 'dense', units: 7 }, { type: 'relu' }, { type: 'dense', units: 2 }])],
  ['LeNet-5', lenet()],
];

describe('explicit conv backward equals autodiff on cpu (1e-5 relative, per tensor)', () => {
  test.each(cases)('%s', async (_name, spec) => {
    const ref = await on('cpu', () => grads(spec, 'autodiff'));
    for (const backend of ['cpu', 'wasm'] as const) {
      const got = await on(backend, () => grads(spec, 'explicit'));
      expect(got.loss).toBeCloseTo(ref.loss, 5);
      for (const e of ref.net.layout) {
        const b = ref.grad.subarray(e.offset, e.offset + e.size);
        expect(relDiff(got.grad.subarray(e.offset, e.offset + e.size), b)).toBeLessThan(1e-5);
        expect(Math.max(...Array.from(b, Math.abs))).toBeGreaterThan(1e-6); // not trivially zero
      }
    }
  });

  test('2x2 max pools (the host fast path) above a sigmoid conv and a linear 1x1 conv, with tied windows', async () => {
    // Blank rows make whole windows tie; ties between identical patches leave weight gradients
    // unchanged, so this checks the fused activation derivatives and that ties do no harm.
    const spec = sequential([8, 8, 1], [
      { type: 'conv2d', filters: 3, kernelSize: 3, padding: 'same' }, { type: 'sigmoid' }, { type: 'maxPool2d', poolSize: 2 },
      { type: 'conv2d', filters: 4, kernelSize: 1 }, { type: 'maxPool2d', poolSize: 2 }, ...head]);
    const ref = await on('cpu', () => grads(spec, 'autodiff', 4, 4));
    for (const backend of ['cpu', 'wasm'] as const) {
      const got = await on(backend, () => grads(spec, 'explicit', 4, 4));
      expect(got.loss).toBeCloseTo(ref.loss, 5);
      for (const e of ref.net.layout) {
        expect(relDiff(got.grad.subarray(e.offset, e.offset + e.size), ref.grad.subarray(e.offset, e.offset + e.size))).toBeLessThan(1e-5);
      }
    }
  });

  test("'auto' picks the explicit path for conv nets on wasm and cpu (same numbers as 'explicit')", async () => {
    const spec = cases[3][1];
    for (const backend of ['cpu', 'wasm'] as const) {
      const auto = await on(backend, () => grads(spec, 'auto'));
      const explicit = await on(backend, () => grads(spec, 'explicit'));
      expect(Array.from(auto.grad)).toEqual(Array.from(explicit.grad));
    }
  });

  test("'same' pooling falls back to autodiff under 'auto'; 'explicit' is a one-line error", async () => {
    await useBackend('wasm');
    const spec = sequential([8, 8, 1], [{ type: 'conv2d', filters: 2, kernelSize: 3 }, { type: 'maxPool2d', poolSize: 2, padding: 'same' }, ...head]);
    expect(relDiff(grads(spec, 'auto').grad, grads(spec, 'autodiff').grad)).toBe(0);
    expect(() => grads(spec, 'explicit')).toThrow(/^gradient method "explicit" needs a dense stack .* or a sequential conv net with "valid" pooling$/);
    expect(() => new ParticleGroup(compileModel(spec), { gradientMethod: 'explicit' })).toThrow(/needs a dense stack/);
  });
});

describe.each(['wasm', 'cpu'] as const)('LeNet group steps on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test('3 SGD steps of 2 particles (shared, then per-particle batches) equal autodiff group steps; no leaks', () => {
    const net = compileModel(lenet());
    const make = (gradientMethod: 'auto' | 'autodiff') => {
      const g = new ParticleGroup(net, { optimizer: { type: 'sgd', lr: 0.01 }, seed: 3, gradientMethod });
      g.add();
      g.add();
      return g;
    };
    const explicit = make('auto');
    const autodiff = make('autodiff');
    const xs = [0, 1, 2].map((i) => normalTensor([8, 28, 28, 1], 40 + i));
    const ys = [0, 1, 2].map((i) => tf.tensor1d([0, 1, 2, 3, 4, 5, 6, (7 + i) % 10], 'int32'));
    const before = tf.memory().numTensors;
    for (let s = 0; s < 3; s++) {
      const batches = s === 1 ? [{ x: xs[1], y: ys[1] }, { x: xs[2], y: ys[2] }] : { x: xs[s], y: ys[s] };
      const a = explicit.step([0, 1], batches, 'cross-entropy');
      const b = autodiff.step([0, 1], batches, 'cross-entropy');
      for (let p = 0; p < 2; p++) expect(a[p]).toBeCloseTo(b[p], 5);
      expect(relDiff(explicit.grads, autodiff.grads)).toBeLessThan(1e-5);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(relDiff(explicit.params, autodiff.params)).toBeLessThan(1e-5);
    tf.dispose([...xs, ...ys]);
  });
});
