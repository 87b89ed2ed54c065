// Split conformal prediction: exact small cases by hand, and the coverage guarantee over 50 random splits.
import {
  apsScore,
  apsSet,
  classificationScores,
  conformalIntervals,
  conformalQuantile,
  conformalSets,
  fitConformalClassifier,
  fitConformalRegressor,
  intervalCoverage,
  setCoverage,
} from '../../src/uncertainty/conformal';
import { Rng } from '../../src/util/rng';

describe('the finite-sample quantile', () => {
  test('k = ceil((n + 1)(1 − α)), +∞ past n', () => {
    const s = [0.4, 0.1, 0.3, 0.2];
    expect(conformalQuantile(s, 0.2)).toBe(0.4); // ceil(5 · 0.8) = 4
    expect(conformalQuantile(s, 0.5)).toBe(0.3); // ceil(2.5) = 3
    expect(conformalQuantile(s, 0.1)).toBe(Infinity); // ceil(4.5) = 5 > 4
    expect(conformalQuantile([1, 2, 3, 4, 5, 6, 7, 8, 9], 0.1)).toBe(9); // 10 · 0.9 is 9 (not 9.000000000000002 → 10)
    expect(conformalQuantile([5], 0.6)).toBe(5); // ceil(0.8) = 1
    expect(() => conformalQuantile(s, 1)).toThrow(/alpha 1: expected a number in \(0, 1\)/);
    expect(() => conformalQuantile([], 0.1)).toThrow(/no calibration scores/);
  });
});

describe('classification sets', () => {
  test('LAC by hand', () => {
    // True-class probabilities 0.9, 0.8, 0.6, 0.3 → scores 0.1, 0.2, 0.4, 0.7; α = 0.2 → q̂ = 0.7.
    const cal = new Float32Array([0.9, 0.1, 0, 0.2, 0.8, 0, 0.4, 0, 0.6, 0.7, 0.3, 0]);
    const model = fitConformalClassifier(cal, 3, [0, 1, 2, 1], 0.2, 'lac');
    expect(model.qhat).toBeCloseTo(0.7, 6);
    expect(model).toMatchObject({ method: 'lac', alpha: 0.2, n: 4 });
    // Sets hold the classes with p ≥ 0.3.
    const sets = conformalSets(model, new Float32Array([0.5, 0.35, 0.15, 0.1, 0.1, 0.8, 0.25, 0.25, 0.5]), 3);
    expect(Array.from(sets.member)).toEqual([1, 1, 0, 0, 0, 1, 0, 0, 1]);
    expect(Array.from(sets.size)).toEqual([2, 1, 1]);
    expect(setCoverage(sets, 3, [1, 0, 2])).toEqual({ coverage: 2 / 3, meanSize: 4 / 3 });
    expect(() => conformalSets(model, new Float32Array(4), 3)).toThrow(/probs has length 4: expected 3 \(\[N = 1, C = 3\]\)/);
    // Too few examples for α: every class.
    expect(conformalSets(fitConformalClassifier(cal, 3, [0, 1, 2, 1], 0.1, 'lac'), new Float32Array([1, 0, 0]), 3).size[0]).toBe(3);
  });

  test('APS scores and sets by hand', () => {
    const row = [0.5, 0.3, 0.2];
    expect(apsScore(row, 1, 0.5)).toBeCloseTo(0.65, 12); // 0.5 before it, plus half of 0.3
    expect(apsScore(row, 0, 0)).toBe(0);
    expect(apsScore(row, 2, 1)).toBeCloseTo(1, 12);
    expect(apsScore([0.4, 0.4, 0.2], 1, 0.5)).toBeCloseTo(0.6, 12); // a tie ranks class 0 first
    // q̂ = 0.65: u = 0.5 takes 0 (0.25) and 1 (0.65), not 2 (0.9); u = 0 the same; u = 1 only class 0 (then 0.8).
    expect(Array.from(apsSet(row, 0.65, 0.5))).toEqual([1, 1, 0]);
    expect(Array.from(apsSet(row, 0.65, 0))).toEqual([1, 1, 0]);
    expect(Array.from(apsSet(row, 0.65, 1))).toEqual([1, 0, 0]);
    expect(Array.from(apsSet(row, 0.2, 0.9))).toEqual([0, 0, 0]); // randomised APS may give an empty set
    // Seeded: the same seed gives the same scores and sets.
    const probs = new Float32Array([0.5, 0.3, 0.2, 0.1, 0.6, 0.3]);
    expect(classificationScores(probs, 3, [1, 2], 'aps', 7)).toEqual(classificationScores(probs, 3, [1, 2], 'aps', 7));
    expect(classificationScores(probs, 3, [1, 2], 'aps', 7)).not.toEqual(classificationScores(probs, 3, [1, 2], 'aps', 8));
  });
});

/** A fixed data set of BMA-like predictions: over-confident softmax of noisy logits, labels from the true softmax. */
function classificationData(N: number, C: number, seed: number) {
  const rng = new Rng(seed);
  const probs = new Float32Array(N * C);
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const z = Array.from({ length: C }, () => 1.5 * rng.normal());
    const softmax = (v: number[]) => {
      const m = Math.max(...v);
      const e = v.map((x) => Math.exp(x - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    };
    const truth = softmax(z);
    let u = rng.next();
    labels[n] = C - 1;
    for (let c = 0; c < C; c++) if ((u -= truth[c]) < 0) {
      labels[n] = c;
      break;
    }
    probs.set(softmax(z.map((v) => 2.5 * v + 0.5 * rng.normal())), n * C);
  }
  return { probs, labels };
}

function take<T extends Float32Array | Int32Array>(a: T, idx: Int32Array, width: number): T {
  const out = new (a.constructor as new (n: number) => T)(idx.length * width);
  idx.forEach((i, k) => out.set(a.subarray(i * width, (i + 1) * width), k * width));
  return out;
}

describe('the coverage guarantee over 50 random calibration/test splits', () => {
  const alpha = 0.1;
  const N = 2000;
  const C = 10;

  test.each(['lac', 'aps'] as const)('%s sets cover at least 1 − α on average, and no split falls far below', (method) => {
    const { probs, labels } = classificationData(N, C, 21);
    const coverages: number[] = [];
    const sizes: number[] = [];
    for (let split = 0; split < 50; split++) {
      const order = new Rng(1000 + split).permutation(N);
      const cal = order.subarray(0, N / 2);
      const test = order.subarray(N / 2);
      const model = fitConformalClassifier(take(probs, cal, C), C, take(labels, cal, 1), alpha, method, split);
      const sets = conformalSets(model, take(probs, test, C), C, split);
      const r = setCoverage(sets, C, take(labels, test, 1));
      coverages.push(r.coverage);
      sizes.push(r.meanSize);
    }
    const mean = coverages.reduce((a, b) => a + b, 0) / coverages.length;
    expect(mean).toBeGreaterThanOrEqual(1 - alpha - 0.01);
    expect(Math.min(...coverages)).toBeGreaterThan(1 - alpha - 0.05);
    // Not trivially covering: the sets are far smaller than all 10 classes.
    expect(Math.max(...sizes)).toBeLessThan(6);
  });

  test('normalised regression intervals cover at least 1 − α, though the model\'s std is off by a factor 3', () => {
    const rng = new Rng(5);
    const mean = new Float32Array(N);
    const std = new Float32Array(N);
    const y = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      const x = rng.uniform(-3, 3);
      const trueStd = 0.1 + 0.5 * Math.abs(x);
      mean[i] = Math.sin(x);
      std[i] = trueStd / 3;
      y[i] = Math.sin(x) + 0.1 + trueStd * rng.normal();
    }
    const coverages: number[] = [];
    for (let split = 0; split < 50; split++) {
      const order = new Rng(2000 + split).permutation(N);
      const cal = order.subarray(0, N / 2);
      const test = order.subarray(N / 2);
      const model = fitConformalRegressor(take(mean, cal, 1), take(std, cal, 1), take(y, cal, 1), 1, alpha);
      expect(model.qhat[0]).toBeGreaterThan(3); // the std is 3 times too small
      const { lower, upper } = conformalIntervals(model, take(mean, test, 1), take(std, test, 1));
      coverages.push(intervalCoverage(lower, upper, take(y, test, 1)).coverage);
    }
    const meanCoverage = coverages.reduce((a, b) => a + b, 0) / coverages.length;
    expect(meanCoverage).toBeGreaterThanOrEqual(1 - alpha - 0.01);
    expect(Math.min(...coverages)).toBeGreaterThan(1 - alpha - 0.05);
  });
});

describe('regression intervals by hand', () => {
  test('q̂ per column in std units, intervals μ ± q̂ σ', () => {
    // Column 0 scores |y − μ|/σ: 1, 2, 3, 4 → α = 0.2: the 4th smallest, 4. Column 1: 0.5, 0.5, 1, 1.5 → 1.5.
    const mean = new Float32Array([0, 0, 0, 0, 0, 0, 0, 0]);
    const std = new Float32Array([1, 1, 1, 2, 1, 2, 2, 2]);
    const y = new Float32Array([1, 0.5, -2, 1, 3, 2, 8, -3]);
    const model = fitConformalRegressor(mean, std, y, 2, 0.2);
    expect(model.qhat).toEqual([4, 1.5]);
    const { lower, upper } = conformalIntervals(model, new Float32Array([1, 1]), new Float32Array([0.5, 2]));
    expect(Array.from(lower)).toEqual([-1, -2]);
    expect(Array.from(upper)).toEqual([3, 4]);
    expect(intervalCoverage(lower, upper, new Float32Array([3, 4.5]))).toEqual({ coverage: 0.5, meanWidth: 5 });
    expect(() => fitConformalRegressor(mean, new Float32Array(8), y, 2, 0.2)).toThrow(/std\[0\] = 0: expected a finite number > 0/);
  });
});
