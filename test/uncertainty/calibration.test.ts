// Temperature scaling and regression calibration: hand-worked cases and synthetic models with known answers.
import { accuracy } from '../../src/bayes/metrics';
import {
  applyTemperature,
  coverageCurve,
  fitTemperature,
  fitVarianceScale,
  intervalStats,
  quantileCalibrationError,
  temperatureReport,
  varianceScaleReport,
} from '../../src/uncertainty/calibration';
import { normalCdf, normalQuantile } from '../../src/uncertainty/normal';
import { Rng } from '../../src/util/rng';

function softmaxInto(z: number[], out: Float32Array, at: number, weight: number): void {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  e.forEach((v, c) => (out[at + c] += (weight * v) / s));
}

function sample(p: number[], rng: Rng): number {
  let u = rng.next();
  for (let c = 0; c < p.length; c++) if ((u -= p[c]) < 0) return c;
  return p.length - 1;
}

/**
 * N examples of C classes: true logits z ~ N(0, 1.5²), labels drawn from softmax(z);
 * the model is a BMA of `members` members with logits sharp·z + N(0, 0.3²) (over-confident for sharp > 1).
 */
function overconfident(N: number, C: number, sharp: number, members: number, seed: number) {
  const rng = new Rng(seed);
  const probs = new Float32Array(N * C);
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const z = Array.from({ length: C }, () => 1.5 * rng.normal());
    const truth = new Float32Array(C);
    softmaxInto(z, truth, 0, 1);
    labels[n] = sample(Array.from(truth), rng);
    for (let s = 0; s < members; s++) {
      const noise = members > 1 ? 0.3 : 0;
      softmaxInto(z.map((v) => sharp * v + noise * rng.normal()), probs, n * C, 1 / members);
    }
  }
  return { probs, labels };
}

describe('temperature scaling', () => {
  test('softmax(log p̄ / T) by hand; T = 1 changes nothing; the arg-max never changes', () => {
    // sqrt(0.8) / (sqrt(0.8) + sqrt(0.2)) = 2/3.
    const t2 = applyTemperature(new Float32Array([0.8, 0.2]), 2, 2);
    expect(t2[0]).toBeCloseTo(2 / 3, 6);
    expect(t2[1]).toBeCloseTo(1 / 3, 6);
    const p = new Float32Array([0.7, 0.2, 0.1, 0, 0.5, 0.5]);
    const same = applyTemperature(p, 3, 1);
    for (let i = 0; i < p.length; i++) expect(same[i]).toBeCloseTo(p[i], 6);
    const sharp = applyTemperature(p, 3, 0.25);
    expect(sharp[0]).toBeGreaterThan(0.99);
    expect(sharp[3]).toBe(0); // a zero stays zero: the floor's (1e-30)^4 underflows
    expect(() => applyTemperature(p, 3, 0)).toThrow(/temperature 0: expected a finite number > 0/);
  });

  test('fitted temperatures worked out by hand', () => {
    // p = [0.8, 0.2] on examples labelled 0, 0, 1: the best p_T(0) is 2/3, so 4^(1/T) = 2, T = 2.
    const p = new Float32Array([0.8, 0.2, 0.8, 0.2, 0.8, 0.2]);
    const fit = fitTemperature(p, 2, [0, 0, 1]);
    expect(fit.temperature).toBeCloseTo(2, 8);
    expect(fit.atBound).toBe(false);
    const q = 2 / 3;
    expect(fit.nllAfter).toBeCloseTo(-(2 * Math.log(q) + Math.log(1 - q)) / 3, 8);
    expect(fit.nllBefore).toBeCloseTo(-(2 * Math.log(0.8) + Math.log(0.2)) / 3, 8);
    // Always right: sharpen to the end of the range. Right half the time: flatten to the other end.
    expect(fitTemperature(p.subarray(0, 2), 2, [0])).toMatchObject({ temperature: 0.01, atBound: true });
    expect(fitTemperature(p.subarray(0, 4), 2, [0, 1])).toMatchObject({ temperature: 100, atBound: true });
    expect(() => fitTemperature(p, 2, [0, 2, 1])).toThrow(/labels\[1\] = 2: expected a class index in \[0, 2\)/);
  });

  test('recovers the sharpening of a single over-confident model: T ≈ 3 for logits 3z', () => {
    const { probs, labels } = overconfident(4000, 5, 3, 1, 1);
    const fit = fitTemperature(probs, 5, labels);
    expect(fit.temperature).toBeGreaterThan(2.7);
    expect(fit.temperature).toBeLessThan(3.3);
  });

  test('on an over-confident BMA, a temperature fitted on validation lowers test ECE and NLL, keeps accuracy', () => {
    const val = overconfident(3000, 5, 2.5, 3, 2);
    const test = overconfident(3000, 5, 2.5, 3, 3);
    const { temperature } = fitTemperature(val.probs, 5, val.labels);
    expect(temperature).toBeGreaterThan(1.5);
    const r = temperatureReport(test.probs, 5, test.labels, temperature);
    expect(r.after.ece).toBeLessThan(r.before.ece / 2);
    expect(r.after.nll).toBeLessThan(r.before.nll - 0.05);
    expect(r.after.brier).toBeLessThan(r.before.brier);
    expect(r.after.accuracy).toBe(r.before.accuracy);
    expect(accuracy(applyTemperature(test.probs, 5, temperature), 5, test.labels)).toBe(r.before.accuracy);
  });
});

describe('regression calibration', () => {
  test('the variance scale by hand, and recovered from data whose noise is twice the predicted std', () => {
    // mean((y − μ)² / σ²) = (4/1 + 4/4) / 2.
    expect(fitVarianceScale(new Float32Array([0, 0]), new Float32Array([1, 4]), new Float32Array([2, 2]))).toBe(2.5);
    const rng = new Rng(4);
    const n = 20000;
    const mean = new Float32Array(n);
    const variance = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      mean[i] = rng.normal();
      variance[i] = 0.1 + rng.next();
      y[i] = mean[i] + 2 * Math.sqrt(variance[i]) * rng.normal();
    }
    const scale = fitVarianceScale(mean, variance, y);
    expect(Math.abs(scale - 4) / 4).toBeLessThan(0.05);
    const r = varianceScaleReport(mean, variance, y, scale);
    // Before: the 90% interval holds P(|ε| < 1.645 / 2) = 2Φ(0.822) − 1 ≈ 0.589 of the targets.
    expect(r.before.intervals[1].picp).toBeCloseTo(2 * normalCdf(normalQuantile(0.95) / 2) - 1, 1);
    for (const s of r.after.intervals) expect(Math.abs(s.picp - s.level)).toBeLessThan(0.015);
    expect(r.after.nll).toBeLessThan(r.before.nll);
    expect(r.after.quantileCalibrationError).toBeLessThan(0.01);
    expect(r.before.quantileCalibrationError).toBeGreaterThan(0.1);
  });

  test('PICP, width, quantile calibration error and the coverage curve by hand', () => {
    const mean = new Float32Array([0, 0, 0, 0]);
    const variance = new Float32Array([1, 1, 4, 4]);
    const y = new Float32Array([0.5, 1.5, 1.5, -5]);
    const [s50, s90] = intervalStats(mean, variance, y, [0.5, 0.9]);
    // z50 = 0.6745: only 0.5 (σ 1) is inside (1.5 with σ 2 is 0.75σ out); z90 = 1.645: both 1.5s too.
    expect(s50.picp).toBe(0.25);
    expect(s90.picp).toBe(0.75);
    expect(s90.meanWidth).toBeCloseTo((2 * 1.6448536 * (1 + 1 + 2 + 2)) / 4, 5);
    // y = μ gives PIT 0.5: observed(p) is 0 below 0.5 and 1 from 0.5: |0 − .25| + |1 − .5| + |1 − .75|.
    expect(quantileCalibrationError(new Float32Array([0]), new Float32Array([1]), new Float32Array([0]), [0.25, 0.5, 0.75])).toBeCloseTo(1 / 3, 12);
    const curve = coverageCurve(mean, variance, y, [0.5, 0.9, 0.99]);
    expect(curve.expected).toEqual([0.5, 0.9, 0.99]);
    expect(curve.observed).toEqual([0.25, 0.75, 1]); // −5 with σ 2 is 2.5σ out: inside from 2Φ(2.5) − 1 = 98.76%
    expect(() => intervalStats(mean, new Float32Array([1, 0, 1, 1]), y)).toThrow(/variance\[1\] = 0: expected a finite number > 0/);
  });
});
