// Learning-rate schedules: PyTorch closed forms at known points.
import { PushInputError } from '../../src/util/errors';
import { lrAt, parseSchedulerConfig } from '../../src/nn';

test('step: base * gamma^floor(count / stepSize), gamma defaults to 0.1', () => {
  const c = parseSchedulerConfig({ type: 'step', stepSize: 2 });
  expect([0, 1, 2, 3, 4].map((n) => lrAt(c, 0.1, n))).toEqual([0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1 ** 2]);
});

test('cosine: base at 0, halfway at tMax/2, etaMin at tMax', () => {
  const c = parseSchedulerConfig({ type: 'cosine', tMax: 10, etaMin: 0.001 });
  expect(lrAt(c, 0.1, 0)).toBeCloseTo(0.1, 12);
  expect(lrAt(c, 0.1, 5)).toBeCloseTo(0.001 + (0.1 - 0.001) / 2, 12);
  expect(lrAt(c, 0.1, 10)).toBeCloseTo(0.001, 12);
  expect(lrAt(parseSchedulerConfig({ type: 'cosine', tMax: 4 }), 1, 1)).toBeCloseTo((1 + Math.cos(Math.PI / 4)) / 2, 12);
});

test('linear: defaults start 1/3, end 1, 5 iterations, then flat', () => {
  const c = parseSchedulerConfig({ type: 'linear' });
  expect(lrAt(c, 0.3, 0)).toBeCloseTo(0.1, 12);
  expect(lrAt(c, 0.3, 2)).toBeCloseTo(0.3 * (1 / 3 + (2 / 3) * (2 / 5)), 12);
  expect(lrAt(c, 0.3, 5)).toBeCloseTo(0.3, 12);
  expect(lrAt(c, 0.3, 50)).toBeCloseTo(0.3, 12);
});

test('exponential: base * gamma^count', () => {
  expect(lrAt(parseSchedulerConfig({ type: 'exponential', gamma: 0.9 }), 2, 3)).toBeCloseTo(2 * 0.729, 12);
});

test('bad configs are one-line PushInputErrors', () => {
  expect(() => parseSchedulerConfig({ type: 'plateau' })).toThrow(/unknown scheduler "plateau": expected one of step, cosine, linear, exponential/);
  expect(() => parseSchedulerConfig({ type: 'step' })).toThrow(/stepSize undefined: expected a positive integer/);
  expect(() => parseSchedulerConfig({ type: 'cosine', tMax: 5, eta_min: 0 })).toThrow(/unknown option "eta_min"/);
  expect(() => parseSchedulerConfig({ type: 'exponential', gamma: -1 })).toThrow(PushInputError);
});
