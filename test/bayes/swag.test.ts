import { SwagMoments } from '../../src/bayes/algorithms/mswag/swag';
import { PushInputError } from '../../src/util/errors';
import { Rng } from '../../src/util/rng';

function iterates(seed: number, T: number, n: number): Float32Array[] {
  // Correlated iterates: a drift along a fixed direction u plus per-coordinate noise,
  // so the low-rank term carries real structure.
  const rng = new Rng(seed);
  const base = rng.fillNormal(new Float32Array(n));
  const u = rng.fillNormal(new Float32Array(n));
  const out: Float32Array[] = [];
  for (let t = 0; t < T; t++) {
    const a = rng.normal();
    const th = new Float32Array(n);
    for (let j = 0; j < n; j++) th[j] = base[j] + a * u[j] + 0.3 * rng.normal();
    out.push(th);
  }
  return out;
}

describe('SwagMoments', () => {
  test('moments and deviations equal a direct computation over the iterates', () => {
    const n = 5;
    const K = 3;
    const its = iterates(1, 7, n);
    const swag = new SwagMoments(n, K);
    const directDevs: number[][] = [];
    for (let t = 0; t < its.length; t++) {
      swag.collect(its[t]);
      // mean after this update, directly: average of iterates 0..t
      const mean = new Array(n).fill(0).map((_, j) => its.slice(0, t + 1).reduce((a, th) => a + th[j], 0) / (t + 1));
      directDevs.push(Array.from(its[t], (v, j) => v - mean[j]));
    }
    expect(swag.count).toBe(7);
    for (let j = 0; j < n; j++) {
      const mean = its.reduce((a, th) => a + th[j], 0) / its.length;
      const sq = its.reduce((a, th) => a + th[j] * th[j], 0) / its.length;
      expect(swag.mean[j]).toBeCloseTo(mean, 12);
      expect(swag.sqMean[j]).toBeCloseTo(sq, 12);
    }
    // The last K = 3 deviations (iterates 4, 5, 6), oldest first.
    expect(swag.numDeviations).toBe(3);
    const D = swag.deviations();
    expect(D.length).toBe(3 * n);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < n; j++) expect(D[i * n + j]).toBeCloseTo(directDevs[4 + i][j], 6);
    }
  });

  test('moments are per instance: two particles do not share a counter', () => {
    const a = new SwagMoments(2, 2);
    const b = new SwagMoments(2, 2);
    a.collect(new Float32Array([1, 1]));
    a.collect(new Float32Array([3, 3]));
    b.collect(new Float32Array([10, 10]));
    expect(a.count).toBe(2);
    expect(b.count).toBe(1);
    expect(Array.from(a.mean)).toEqual([2, 2]);
    expect(Array.from(b.mean)).toEqual([10, 10]);
  });

  // Empirical covariance of M samples vs Σ = scale·(diag(var) + DᵀD/max(k−1, 1)).
  // For Gaussian samples the sample covariance entry Σ̂_ij has standard error
  // sqrt((Σ_ii Σ_jj + Σ_ij²)/M) and the sample mean sqrt(Σ_ii/M); we allow 5 standard
  // errors per entry (over ≤ 16 entries, a false failure has probability < 1e-5).
  // With M = 40000 the allowance is ~3.5% of the scale of Σ. The test also checks that it
  // could fail: the covariance with the low-rank term divided by k instead of k − 1 (a
  // smaller error than Push's num_samples − 1) is rejected by the same allowance.
  function checkCovariance(n: number, K: number, T: number, expectedDivisor: number) {
    const swag = new SwagMoments(n, K);
    for (const th of iterates(2, T, n)) swag.collect(th);
    const k = swag.numDeviations;
    expect(Math.max(k - 1, 1)).toBe(expectedDivisor);
    const scale = 0.5;
    const variance = swag.variance();
    const D = swag.deviations();
    const covariance = (divisor: number) => {
      const c = new Float64Array(n * n);
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          let lr = 0;
          for (let i = 0; i < k; i++) lr += D[i * n + a] * D[i * n + b];
          c[a * n + b] = scale * ((a === b ? variance[a] : 0) + lr / divisor);
        }
      }
      return c;
    };
    const sigma = covariance(expectedDivisor);
    const wrong = covariance(k);
    let wrongRejected = false;
    const rng = new Rng(99);
    const M = 40000;
    const sum = new Float64Array(n);
    const sumOuter = new Float64Array(n * n);
    for (let m = 0; m < M; m++) {
      const s = swag.sample(rng, { scale });
      for (let a = 0; a < n; a++) {
        const da = s[a] - swag.mean[a];
        sum[a] += da;
        for (let b = 0; b < n; b++) sumOuter[a * n + b] += da * (s[b] - swag.mean[b]);
      }
    }
    for (let a = 0; a < n; a++) {
      expect(Math.abs(sum[a] / M)).toBeLessThan(5 * Math.sqrt(sigma[a * n + a] / M));
      for (let b = 0; b < n; b++) {
        // Centred at the known mean, so E[Σ̂] = Σ exactly.
        const est = sumOuter[a * n + b] / M;
        const se = Math.sqrt((sigma[a * n + a] * sigma[b * n + b] + sigma[a * n + b] ** 2) / M);
        expect(Math.abs(est - sigma[a * n + b])).toBeLessThan(5 * se);
        if (Math.abs(est - wrong[a * n + b]) > 5 * se) wrongRejected = true;
      }
    }
    expect(wrongRejected).toBe(true);
  }

  test('sample covariance matches scale·(diag(var) + DᵀD/(K−1)) with K deviations held', () => {
    checkCovariance(3, 4, 12, 3);
  });

  test('sample covariance uses k−1 while fewer than K deviations are held', () => {
    checkCovariance(4, 20, 4, 3);
  });

  test('scale 0 returns the mean', () => {
    const swag = new SwagMoments(3, 2);
    for (const th of iterates(3, 5, 3)) swag.collect(th);
    expect(Array.from(swag.sample(new Rng(1), { scale: 0 }))).toEqual(Array.from(swag.mean, Math.fround));
  });

  test('varClamp floors the diagonal variance', () => {
    const swag = new SwagMoments(2, 0); // rank 0: diagonal SWAG
    swag.collect(new Float32Array([1, 2]));
    swag.collect(new Float32Array([1, 2])); // no spread: var 0
    const rng = new Rng(5);
    const s = swag.sample(rng, { scale: 1, varClamp: 0.25 });
    // |θ − mean| = 0.5·|z|, with z ~ N(0, 1): not 0
    expect(s[0]).not.toBe(1);
    expect(Array.from(swag.sample(rng, { scale: 1, varClamp: 0 }))).toEqual([1, 2]);
  });

  test('state round trip is exact, including the ring position', () => {
    const n = 6;
    const its = iterates(4, 9, n);
    const a = new SwagMoments(n, 4);
    for (const th of its.slice(0, 7)) a.collect(th); // ring has wrapped
    const state = a.toState();
    const b = SwagMoments.fromState(state);
    expect(b.toState()).toEqual(state);
    expect(state.mean).not.toBe(a.mean); // a copy, safe to post
    // Continue both: identical moments, deviations and samples.
    for (const th of its.slice(7)) {
      a.collect(th);
      b.collect(th);
    }
    expect(b.toState()).toEqual(a.toState());
    expect(b.sample(new Rng(8))).toEqual(a.sample(new Rng(8)));
  });

  test('bad input throws PushInputError', () => {
    const swag = new SwagMoments(3);
    expect(() => swag.sample(new Rng(1))).toThrow(/no iterates/);
    expect(() => swag.collect(new Float32Array(2))).toThrow(/theta has length 2: expected 3/);
    expect(() => new SwagMoments(0)).toThrow(PushInputError);
    swag.collect(new Float32Array(3));
    expect(() => swag.sample(new Rng(1), { scale: -1 })).toThrow(/scale = -1/);
    const state = swag.toState();
    expect(() => SwagMoments.fromState({ ...state, mean: new Float64Array(2) })).toThrow(/mean: expected a Float64Array of length 3/);
  });
});
