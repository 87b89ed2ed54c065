// Compiled networks: initialisation, materialize, forward (dense and conv), dropout.
import { tf, useBackend } from '../../src/util/tf';
import { compileModel, dropoutMask, lenet, dense, sequential } from '../../src/nn';
import { maxAbsDiff, normalTensor, relDiff, values } from './helpers';

beforeAll(() => useBackend('wasm'));

describe('initParams', () => {
  test('PyTorch default bounds: every entry of a layer in +-1/sqrt(fan_in), filling the range', () => {
    const net = compileModel(sequential([6, 6, 2], [{ type: 'conv2d', filters: 3, kernelSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 4 }]));
    const row = net.initParams(11);
    const fanIns = [2 * 3 * 3, 2 * 3 * 3, 4 * 4 * 3, 4 * 4 * 3];
    net.layout.forEach((e, i) => {
      const bound = 1 / Math.sqrt(fanIns[i]);
      const part = Array.from(row.subarray(e.offset, e.offset + e.size));
      expect(Math.max(...part.map(Math.abs))).toBeLessThanOrEqual(bound);
      if (e.size >= 18) expect(Math.max(...part.map(Math.abs))).toBeGreaterThan(0.7 * bound);
    });
  });

  test('same seed, same row; different seed, different row; out buffer is filled in place', () => {
    const net = compileModel(dense([5, 7, 1]));
    const a = net.initParams(3);
    const out = new Float32Array(net.numParams);
    expect(net.initParams(3, out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(a));
    expect(maxAbsDiff(net.initParams(4), a)).toBeGreaterThan(0.01);
    expect(() => net.initParams(3, new Float32Array(5))).toThrow(/expected a Float32Array of 50/);
  });
});

describe('forward', () => {
  test('a tiny mlp equals the same computation written out in JS', () => {
    const net = compileModel(dense([2, 3, 1], { activation: 'tanh' }));
    const row = net.initParams(5);
    const xData = [0.5, -1, 2, 0.25];
    const x = tf.tensor2d(xData, [2, 2]);
    const params = net.materialize(row);
    const out = net.forward(params, x);
    expect(out.shape).toEqual([2, 1]);
    const W1 = row.subarray(0, 6), b1 = row.subarray(6, 9), W2 = row.subarray(9, 12), b2 = row[12];
    for (let n = 0; n < 2; n++) {
      let y = b2;
      for (let j = 0; j < 3; j++) y += W2[j] * Math.tanh(xData[2 * n] * W1[j] + xData[2 * n + 1] * W1[3 + j] + b1[j]);
      expect(out.dataSync()[n]).toBeCloseTo(y, 5);
    }
    tf.dispose([x, out, ...params]);
  });

  test('materialize returns one tensor per layout entry with its shape', () => {
    const net = compileModel(lenet());
    const params = net.materialize(net.initParams(1));
    expect(params.map((p) => p.shape)).toEqual(net.layout.map((e) => e.shape));
    tf.dispose(params);
    expect(() => net.materialize(new Float32Array(3))).toThrow(/expected a Float32Array of 61706/);
  });

  test('lenet accepts [B, 28, 28, 1] or flat [B, 784] images and gives the same logits on wasm and cpu', async () => {
    const net = compileModel(lenet());
    const row = net.initParams(2);
    const run = () => {
      const params = net.materialize(row);
      const x = normalTensor([3, 784], 9);
      const flat = net.forward(params, x);
      const img = net.forward(params, tf.reshape(x, [3, 28, 28, 1]));
      const out = { flat: values(flat), img: values(img), shape: flat.shape };
      tf.dispose([...params, x, flat, img]);
      return out;
    };
    const wasm = run();
    await useBackend('cpu');
    const cpu = run();
    await useBackend('wasm');
    expect(wasm.shape).toEqual([3, 10]);
    expect(wasm.flat).toEqual(wasm.img);
    expect(relDiff(wasm.flat, cpu.flat)).toBeLessThan(1e-5);
  });

  test('wrong input width is a one-line PushInputError', () => {
    const net = compileModel(dense([4, 2]));
    const params = net.materialize(net.initParams(0));
    const x = tf.zeros([2, 5]);
    expect(() => net.forward(params, x)).toThrow(/input shape \[2, 5\]: expected \[batch, 4\]/);
    tf.dispose([...params, x]);
  });
});

describe('dropout', () => {
  const net = compileModel(dense([10, 200, 1], { dropout: 0.5 }));
  const row = net.initParams(1);

  test('off at prediction, deterministic per seed in training, different across seeds', () => {
    const params = net.materialize(row);
    const x = normalTensor([4, 10], 3);
    const run = (opts: { training?: boolean; dropoutSeed?: number }) => {
      const out = net.forward(params, x, opts);
      const v = values(out);
      out.dispose();
      return v;
    };
    const noDrop = run({});
    expect(run({ training: false, dropoutSeed: 5 })).toEqual(noDrop);
    const a = run({ training: true, dropoutSeed: 5 });
    expect(run({ training: true, dropoutSeed: 5 })).toEqual(a);
    expect(maxAbsDiff(a, noDrop)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(run({ training: true, dropoutSeed: 6 }), a)).toBeGreaterThan(1e-3);
    tf.dispose([...params, x]);
  });

  test('a shared mask is one thinned network: a row gives the same output alone, in any batch, at any position', () => {
    const convNet = compileModel(sequential([6, 6, 1], [{ type: 'conv2d', filters: 3, kernelSize: 3 }, { type: 'relu' }, { type: 'dropout', rate: 0.5 }, { type: 'flatten' }, { type: 'dense', units: 2 }]));
    for (const [n, shape] of [[net, [5, 10]], [convNet, [5, 6, 6, 1]]] as const) {
      const params = n.materialize(n.initParams(2));
      const x = normalTensor([...shape], 4);
      const run = (xs: tf.Tensor, sharedDropoutMask: boolean) => {
        const out = n.forward(params, xs, { training: true, dropoutSeed: 9, sharedDropoutMask });
        const v = values(out);
        out.dispose();
        return v;
      };
      const outSize = n.outputSize;
      const whole = run(x, true);
      const reversed = tf.reverse(x, 0);
      const back = run(reversed, true);
      for (let i = 0; i < 5; i++) {
        const alone = tf.slice(x, i, 1);
        expect(maxAbsDiff(run(alone, true), whole.slice(i * outSize, (i + 1) * outSize))).toBeLessThan(1e-5);
        expect(maxAbsDiff(back.slice((4 - i) * outSize, (5 - i) * outSize), whole.slice(i * outSize, (i + 1) * outSize))).toBeLessThan(1e-5);
        alone.dispose();
      }
      // Per-row masks (training) differ from row to row: the same input twice gives two outputs.
      const twice = tf.concat([tf.slice(x, 0, 1), tf.slice(x, 0, 1)]);
      const perRow = run(twice, false);
      expect(maxAbsDiff(perRow.slice(0, outSize), perRow.slice(outSize))).toBeGreaterThan(1e-4);
      const shared = run(twice, true);
      expect(shared.slice(0, outSize)).toEqual(shared.slice(outSize));
      tf.dispose([...params, x, reversed, twice]);
    }
    convNet.dispose();
  });

  test('masks are inverted dropout: 0 or 1/(1-p), keeping about 1-p of the elements', () => {
    const mask = dropoutMask(7, 2, 0.3, 20000);
    const kept = Array.from(mask).filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.7)]));
    expect(kept.length / mask.length).toBeGreaterThan(0.68);
    expect(kept.length / mask.length).toBeLessThan(0.72);
    expect(Array.from(dropoutMask(7, 3, 0.3, 50))).not.toEqual(Array.from(dropoutMask(7, 2, 0.3, 50)));
  });
});
