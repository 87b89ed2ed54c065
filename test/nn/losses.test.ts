// Losses: values against hand computation, explicit gradients against autodiff, label forms.
import { tf, useBackend } from '../../src/util/tf';
import { PushInputError } from '../../src/util/errors';
import { LOSS_NAMES, gaussianNll, gaussianOutput, parseLoss } from '../../src/nn';
import { normalTensor, relDiff, values } from './helpers';

beforeAll(() => useBackend('wasm'));

const pred = () => tf.tensor2d([0.5, -1.0, 2.0, 0.0, 3.0, -2.0], [2, 3]);

describe('loss values', () => {
  test('mse is the mean over all elements (PyTorch MSELoss)', () => {
    const y = tf.tensor2d([1, 1, 1, 0, 0, 0], [2, 3]);
    const expected = (0.25 + 4 + 1 + 0 + 9 + 4) / 6;
    expect(parseLoss('mse').value(pred(), y).dataSync()[0]).toBeCloseTo(expected, 6);
  });

  test('cross-entropy takes labels [B], [B, 1] or one-hot [B, C] and matches log-sum-exp by hand', () => {
    const ce = parseLoss('cross-entropy');
    const p = pred();
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    const expected = (lse([0.5, -1, 2]) - 2 + (lse([0, 3, -2]) - 0)) / 2;
    const forms = [tf.tensor1d([2, 0], 'int32'), tf.tensor2d([2, 0], [2, 1]), tf.tensor2d([0, 0, 1, 1, 0, 0], [2, 3])];
    for (const y of forms) expect(ce.value(p, y).dataSync()[0]).toBeCloseTo(expected, 5);
    expect(values(ce.perExample(p, forms[0]))[1]).toBeCloseTo(lse([0, 3, -2]), 5);
  });

  test('bce from logits is stable for large logits and matches the formula', () => {
    const bce = parseLoss('bce');
    const big = tf.tensor2d([100, -100], [2, 1]);
    const v = bce.value(big, tf.tensor2d([0, 1], [2, 1])).dataSync()[0];
    expect(v).toBeCloseTo(100, 4); // log(1 + e^100) ~ 100, computed without overflow
    const p = pred();
    const y = tf.tensor2d([1, 0, 1, 0, 1, 0], [2, 3]);
    const f = values(p), t = values(y);
    const expected = f.reduce((s, z, i) => s + Math.log(1 + Math.exp(z)) - z * t[i], 0) / 6;
    expect(bce.value(p, y).dataSync()[0]).toBeCloseTo(expected, 5);
  });

  test('gaussian-nll: var = softplus(raw) + 1e-6, mean of 0.5(log var + r^2/var), same as gaussianNll', () => {
    const g = parseLoss('gaussian-nll');
    const out = tf.tensor2d([0.5, -0.3, 1.0, 2.0], [2, 2]); // [mean | raw]
    const y = tf.tensor2d([1.0, 0.0], [2, 1]);
    const sp = (r: number) => Math.log(1 + Math.exp(r)) + 1e-6;
    const term = (mu: number, raw: number, t: number) => 0.5 * (Math.log(sp(raw)) + (t - mu) ** 2 / sp(raw));
    const expected = (term(0.5, -0.3, 1.0) + term(1.0, 2.0, 0.0)) / 2;
    expect(g.value(out, y).dataSync()[0]).toBeCloseTo(expected, 5);
    const { mean, variance } = gaussianOutput(out);
    expect(gaussianNll(mean, variance, y).dataSync()[0]).toBeCloseTo(expected, 5);
    expect(() => g.value(tf.zeros([2, 3]), y)).toThrow(/even network output width/);
  });
});

describe('explicit gradients', () => {
  const cases: [string, () => tf.Tensor, number][] = [
    ['mse', () => normalTensor([5, 3], 2), 3],
    ['cross-entropy', () => tf.tensor1d([0, 2, 1, 1, 0], 'int32'), 3],
    ['bce', () => tf.cast(tf.greater(normalTensor([5, 3], 4), 0), 'float32'), 3],
    ['gaussian-nll', () => normalTensor([5, 2], 5), 4],
  ];
  test.each(cases)('%s: gradOutput equals the autodiff gradient of value; perExample averages to value', (name, target, width) => {
    const loss = parseLoss(name);
    const p = normalTensor([5, width], 1);
    const y = target();
    const auto = tf.grad((q: tf.Tensor) => loss.value(q, y))(p);
    const explicit = loss.gradOutput(p, y);
    expect(explicit.shape).toEqual(p.shape);
    expect(relDiff(values(explicit), values(auto))).toBeLessThan(1e-5);
    const per = loss.perExample(p, y);
    expect(per.shape).toEqual([5]);
    expect(tf.mean(per).dataSync()[0]).toBeCloseTo(loss.value(p, y).dataSync()[0], 5);
  });

  test('with a leading particle axis, each particle gets its own loss and gradient', () => {
    const loss = parseLoss('mse');
    const p = normalTensor([2, 4, 1], 8);
    const t = loss.prepareTarget(normalTensor([4, 1], 9), 1);
    const both = values(loss.valueOf(p, t));
    const g = loss.gradOf(p, t);
    const [p0, p1] = tf.unstack(p);
    expect(both[0]).toBeCloseTo(loss.valueOf(p0, t).dataSync()[0], 6);
    expect(both[1]).toBeCloseTo(loss.valueOf(p1, t).dataSync()[0], 6);
    expect(relDiff(values(tf.unstack(g)[1]), values(loss.gradOf(p1, t)))).toBeLessThan(1e-6);
  });
});

test('parseLoss rejects unknown names with a one-line PushInputError listing the valid ones', () => {
  expect(() => parseLoss('hinge')).toThrow(PushInputError);
  expect(() => parseLoss('hinge')).toThrow(`unknown loss "hinge": expected one of ${LOSS_NAMES.join(', ')}`);
  expect(parseLoss(parseLoss('bce')).name).toBe('bce');
  expect(() => parseLoss('mse').value(tf.zeros([2, 3]), tf.zeros([2, 2]))).toThrow(/mse target shape \[2, 2\]: expected \[batch, 3\]/);
});
