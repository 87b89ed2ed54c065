import {
  METRIC_KEYS,
  accuracy,
  brier,
  classificationMetrics,
  classificationNll,
  confidenceBin,
  ece,
  gaussianNll,
  regressionMetrics,
  reliabilityBins,
  rmse,
} from '../../src/bayes/metrics';
import { PushInputError } from '../../src/util/errors';

const f32 = (xs: number[]) => new Float32Array(xs);

describe('regression metrics', () => {
  test('rmse by hand', () => {
    // errors 0, -2, 3 -> squares 0, 4, 9 -> mean 13/3 -> sqrt = 2.0816659994661326
    expect(rmse(f32([1, 2, 3]), f32([1, 4, 0]))).toBeCloseTo(2.0816659994661326, 12);
  });

  test('gaussianNll includes the full 0.5·log(2π) constant', () => {
    // element 1: mean 0, var 1, y 1: 0.5·log(2π) + 1²/2      = 0.918938533 + 0.5 = 1.418938533
    // element 2: mean 1, var 4, y 1: 0.5·log(2π·4) + 0²/8    = 1.612085714
    // mean = (1.418938533 + 1.612085714) / 2 = 1.515512123
    expect(gaussianNll(f32([0, 1]), f32([1, 4]), f32([1, 1]))).toBeCloseTo(1.5155121234846454, 10);
  });

  test('gaussianNll rejects a non-positive variance, naming the element', () => {
    expect(() => gaussianNll(f32([0, 0]), f32([1, 0]), f32([0, 0]))).toThrow(/variance\[1\] = 0/);
    expect(() => gaussianNll(f32([0, 0]), f32([1, 0]), f32([0, 0]))).toThrow(PushInputError);
  });

  test('regressionMetrics reports nll only with a variance', () => {
    const mean = f32([0, 1]);
    const y = f32([1, 1]);
    expect(regressionMetrics({ mean, y })).toEqual({ rmse: Math.sqrt(0.5) });
    const m = regressionMetrics({ mean, y, variance: f32([1, 4]) });
    expect(m.rmse).toBeCloseTo(Math.sqrt(0.5), 12);
    expect(m.nll).toBeCloseTo(1.5155121234846454, 10);
  });

  test('length mismatch is a one-line PushInputError', () => {
    expect(() => rmse(f32([1, 2]), f32([1, 2, 3]))).toThrow(/pred has length 2: expected 3/);
  });
});

describe('classification metrics', () => {
  // C = 3, N = 4.
  //   ex0 [0.70, 0.20, 0.10] label 0: top 0 (right), conf 0.70
  //   ex1 [0.10, 0.72, 0.18] label 2: top 1 (wrong), conf 0.72
  //   ex2 [0.25, 0.25, 0.50] label 2: top 2 (right), conf 0.50
  //   ex3 [0.45, 0.45, 0.10] label 1: tie 0/1 -> top 0 (wrong), conf 0.45
  const probs = f32([0.7, 0.2, 0.1, 0.1, 0.72, 0.18, 0.25, 0.25, 0.5, 0.45, 0.45, 0.1]);
  const labels = new Int32Array([0, 2, 2, 1]);

  test('accuracy (arg-max ties go to the smallest class)', () => {
    // right: ex0, ex2 -> 2/4. (If the tie in ex3 went to class 1 it would be 3/4.)
    expect(accuracy(probs, 3, labels)).toBe(0.5);
    expect(accuracy(probs, 3, new Float32Array([0, 2, 2, 1]))).toBe(0.5);
  });

  test('nll', () => {
    // -(ln 0.70 + ln 0.18 + ln 0.50 + ln 0.45) / 4 = (0.356675 + 1.714798 + 0.693147 + 0.798508) / 4 = 0.890782
    expect(classificationNll(probs, 3, labels)).toBeCloseTo(0.8907820622020941, 6);
  });

  test('nll floors p at 1e-12', () => {
    // -ln(1e-12) = 27.631021
    expect(classificationNll(f32([1, 0]), 2, [1])).toBeCloseTo(27.631021115928547, 6);
  });

  test('brier is the multi-class sum over classes', () => {
    // ex0: 0.3² + 0.2² + 0.1²      = 0.09 + 0.04 + 0.01     = 0.14
    // ex1: 0.1² + 0.72² + 0.82²    = 0.01 + 0.5184 + 0.6724 = 1.2008
    // ex2: 0.25² + 0.25² + 0.5²    = 0.0625 + 0.0625 + 0.25 = 0.375
    // ex3: 0.45² + 0.55² + 0.1²    = 0.2025 + 0.3025 + 0.01 = 0.515
    // mean = 2.2308 / 4 = 0.5577
    expect(brier(probs, 3, labels)).toBeCloseTo(0.5577, 6);
  });

  test('ece with 15 bins', () => {
    // bins are (i/15, (i+1)/15]: 0.70 and 0.72 -> bin 10 (0.6667, 0.7333]; 0.50 -> bin 7 (0.4667, 0.5333];
    // 0.45 -> bin 6 (0.4, 0.4667].
    // bin 10: 2 examples, acc 1/2, conf 0.71 -> (2/4)·|0.5 − 0.71| = 0.105
    // bin 7:  1 example,  acc 1,   conf 0.50 -> (1/4)·0.5          = 0.125
    // bin 6:  1 example,  acc 0,   conf 0.45 -> (1/4)·0.45         = 0.1125
    // ECE = 0.3425
    expect(ece(probs, 3, labels)).toBeCloseTo(0.3425, 6);
    // With 1 bin: |acc − mean conf| = |0.5 − (0.7 + 0.72 + 0.5 + 0.45)/4| = |0.5 − 0.5925| = 0.0925
    expect(ece(probs, 3, labels, 1)).toBeCloseTo(0.0925, 6);
  });

  test('reliability bins', () => {
    const bins = reliabilityBins(probs, 3, labels);
    expect(bins).toHaveLength(15);
    expect(bins.map((b) => b.count)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 2, 0, 0, 0, 0]);
    expect(bins[10].lo).toBeCloseTo(10 / 15, 12);
    expect(bins[10].hi).toBeCloseTo(11 / 15, 12);
    expect(bins[10].accuracy).toBe(0.5);
    expect(bins[10].confidence).toBeCloseTo(0.71, 6);
    expect(bins[0].accuracy).toBeNaN();
  });

  test('bin edges: (i/15, (i+1)/15], 0 in the first bin, 1 in the last', () => {
    expect(confidenceBin(0, 15)).toBe(0);
    expect(confidenceBin(1, 15)).toBe(14);
    // Exactly on an upper edge i/15 belongs to bin i−1, just above it to bin i.
    for (let i = 1; i <= 15; i++) {
      expect(confidenceBin(i / 15, 15)).toBe(i - 1);
      if (i < 15) expect(confidenceBin(i / 15 + 1e-12, 15)).toBe(i);
    }
  });

  test('classificationMetrics has exactly the classification keys', () => {
    const m = classificationMetrics({ probs, C: 3, labels });
    expect(Object.keys(m).sort()).toEqual(['accuracy', 'brier', 'ece', 'nll']);
    for (const k of Object.keys(m)) expect(METRIC_KEYS).toContain(k);
    expect(m.accuracy).toBe(0.5);
    expect(m.nll).toBeCloseTo(0.8907820622020941, 6);
    expect(m.ece).toBeCloseTo(0.3425, 6);
    expect(m.brier).toBeCloseTo(0.5577, 6);
  });

  test('bad labels are rejected with the index and the expected range', () => {
    expect(() => accuracy(probs, 3, [0, 2, 3, 1])).toThrow(/labels\[2\] = 3: expected a class index, an integer in \[0, 3\)/);
    expect(() => accuracy(probs, 3, [0, 1.5, 0, 1])).toThrow(PushInputError);
    expect(() => accuracy(probs, 4, labels)).toThrow(/probs has length 12: expected 16/);
  });
});
