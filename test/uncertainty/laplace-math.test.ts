// Last-layer Laplace maths against laplace-torch's formulas on small cases computed here by hand:
// a linear-Gaussian model, where the Laplace posterior and evidence are exact, and a 2-class softmax.
import {
  factorGgn,
  fitLastLayerLaplace,
  functionalMoments,
  lastLayerGgn,
  lastLayerLogLikelihood,
  logMarginalLikelihood,
  optimizePriorPrecision,
  posteriorCovariance,
  probitProbabilities,
  sampleLastLayer,
} from '../../src/uncertainty/laplace-math';
import { symmetricEigen } from '../../src/uncertainty/symmetric-eigen';
import { Rng } from '../../src/util/rng';

/** Solves A x = b (n×n, row-major) by Gaussian elimination with partial pivoting. */
function solve(A: number[], b: number[], n: number): number[] {
  const M = A.map((v) => v);
  const x = b.map((v) => v);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[piv * n + c])) piv = r;
    for (let k = 0; k < n; k++) [M[c * n + k], M[piv * n + k]] = [M[piv * n + k], M[c * n + k]];
    [x[c], x[piv]] = [x[piv], x[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / M[c * n + c];
      for (let k = c; k < n; k++) M[r * n + k] -= f * M[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    for (let k = c + 1; k < n; k++) x[c] -= M[c * n + k] * x[k];
    x[c] /= M[c * n + c];
  }
  return x;
}

function inverse(A: number[], n: number): number[] {
  const inv = new Array(n * n).fill(0);
  for (let j = 0; j < n; j++) {
    const col = solve(A, Array.from({ length: n }, (_, i) => (i === j ? 1 : 0)), n);
    for (let i = 0; i < n; i++) inv[i * n + j] = col[i];
  }
  return inv;
}

/** log N(y; 0, C) by Cholesky. */
function logGaussian(y: number[], C: number[], n: number): number {
  const L = new Array(n * n).fill(0);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = C[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = i === j ? Math.sqrt(s) : s / L[j * n + j];
    }
  }
  const z: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = y[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * z[k];
    z.push(s / L[i * n + i]);
  }
  let logDet = 0;
  for (let i = 0; i < n; i++) logDet += 2 * Math.log(L[i * n + i]);
  return -0.5 * (z.reduce((a, v) => a + v * v, 0) + logDet + n * Math.log(2 * Math.PI));
}

describe('linear-Gaussian last layer: the Laplace posterior and evidence are exact', () => {
  // y = w0 φ0 + w1 φ1 + b + ε, ε ~ N(0, σ²), prior N(0, δ⁻¹ I) on θ = [w0, w1, b] (H = 2, K = 1, P = 3).
  const N = 30;
  const H = 2;
  const sigma = 0.5;
  const rng = new Rng(3);
  const features = new Float32Array(N * H).map(() => rng.normal());
  const y = Array.from({ length: N }, (_, n) => 1.5 * features[n * H] - 0.7 * features[n * H + 1] + 0.3 + sigma * rng.normal());
  const phi = (n: number) => [features[n * H], features[n * H + 1], 1];
  // Φ̃ᵀΦ̃ and Φ̃ᵀy by hand.
  const XtX = new Array(9).fill(0);
  const Xty = [0, 0, 0];
  for (let n = 0; n < N; n++) {
    const p = phi(n);
    for (let i = 0; i < 3; i++) {
      Xty[i] += p[i] * y[n];
      for (let j = 0; j < 3; j++) XtX[i * 3 + j] += p[i] * p[j];
    }
  }
  const delta = 2;
  const precision = XtX.map((v, i) => v / sigma ** 2 + (i % 4 === 0 ? delta : 0));
  const thetaMap = solve(precision, Xty.map((v) => v / sigma ** 2), 3); // the exact posterior mean
  const input = { likelihood: 'regression' as const, features, N, H, K: 1, theta: thetaMap, y: Float32Array.from(y), sigmaNoise: sigma };

  test('the GGN is Φ̃ᵀΦ̃ / σ², its diagonal the diag structure; the covariance the exact posterior covariance', () => {
    const G = lastLayerGgn(input, 'full');
    for (let i = 0; i < 9; i++) expect(G[i]).toBeCloseTo(XtX[i] / sigma ** 2, 4);
    const D = lastLayerGgn(input, 'diag');
    expect(Array.from(D).map((v) => +v.toFixed(3))).toEqual([G[0], G[4], G[8]].map((v) => +v.toFixed(3)));
    const post = fitLastLayerLaplace(input, { priorPrecision: delta });
    const cov = posteriorCovariance(post);
    const exact = inverse(precision, 3);
    for (let i = 0; i < 9; i++) expect(cov[i]).toBeCloseTo(exact[i], 7);
    const diagPost = fitLastLayerLaplace(input, { structure: 'diag', priorPrecision: delta });
    const diagCov = posteriorCovariance(diagPost);
    for (let i = 0; i < 3; i++) expect(diagCov[i]).toBeCloseTo(1 / (XtX[i * 4] / sigma ** 2 + delta), 7);
  });

  test('with two targets the GGN is (Φ̃ᵀΦ̃ / σ²) ⊗ I: no coupling between outputs', () => {
    const y2 = new Float32Array(2 * N).map((_, i) => y[i >> 1] * (i % 2 ? -1 : 1));
    const G = lastLayerGgn({ ...input, K: 2, theta: [1, 2, 3, 4, 5, 6], y: y2 }, 'full');
    for (let a = 0; a < 3; a++) for (let k = 0; k < 2; k++) for (let b = 0; b < 3; b++) for (let k2 = 0; k2 < 2; k2++) {
      expect(G[(a * 2 + k) * 6 + b * 2 + k2]).toBeCloseTo(k === k2 ? XtX[a * 3 + b] / sigma ** 2 : 0, 4);
    }
  });

  test('log marginal likelihood equals the exact evidence log N(y; 0, σ²I + Φ̃Φ̃ᵀ/δ)', () => {
    const cov: number[] = [];
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        const a = phi(i);
        const b = phi(j);
        cov.push((a[0] * b[0] + a[1] * b[1] + 1) / delta + (i === j ? sigma ** 2 : 0));
      }
    }
    const exact = logGaussian(y, cov, N);
    // laplace-torch: log_lik − ½ (log det(G + δI) − P log δ + δ‖θ*‖²).
    const post = fitLastLayerLaplace(input, { priorPrecision: delta });
    expect(post.logMarginalLikelihood).toBeCloseTo(exact, 6);
    // log p(D | θ*) = −SSE/(2σ²) − N log(σ√(2π)).
    let sse = 0;
    for (let n = 0; n < N; n++) sse += (y[n] - (thetaMap[0] * phi(n)[0] + thetaMap[1] * phi(n)[1] + thetaMap[2])) ** 2;
    expect(lastLayerLogLikelihood(input)).toBeCloseTo(-sse / (2 * sigma ** 2) - N * Math.log(sigma * Math.sqrt(2 * Math.PI)), 6);
  });

  test('the optimised prior precision satisfies MacKay\'s fixed point and beats a grid', () => {
    const G = lastLayerGgn(input, 'full');
    const factor = factorGgn(G, 3, 'full');
    const logLik = lastLayerLogLikelihood(input);
    const best = optimizePriorPrecision(factor, thetaMap);
    const gamma = Array.from(factor.values).reduce((s, l) => s + l / (l + best), 0);
    const norm = thetaMap.reduce((s, v) => s + v * v, 0);
    expect(gamma).toBeCloseTo(best * norm, 8);
    const atBest = logMarginalLikelihood(factor, logLik, thetaMap, best);
    for (let e = -4; e <= 4; e += 0.05) expect(logMarginalLikelihood(factor, logLik, thetaMap, 10 ** e)).toBeLessThanOrEqual(atBest + 1e-12);
    // 'marglik' picks it.
    expect(fitLastLayerLaplace(input).priorPrecision).toBeCloseTo(best, 8);
  });

  test('the predictive variance φ̃ᵀ Σ φ̃, and MC samples with the posterior\'s mean and covariance', () => {
    const post = fitLastLayerLaplace(input, { priorPrecision: delta });
    const cov = posteriorCovariance(post);
    const x = new Float32Array([0.5, -2]);
    const { mean, variance } = functionalMoments(post, cov, x, 1);
    const p = [0.5, -2, 1];
    let v = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) v += p[i] * cov[i * 3 + j] * p[j];
    expect(variance[0]).toBeCloseTo(v, 10);
    expect(mean[0]).toBeCloseTo(0.5 * thetaMap[0] - 2 * thetaMap[1] + thetaMap[2], 10);
    const S = 20000;
    const samples = sampleLastLayer(post, S, 9);
    expect(sampleLastLayer(post, 3, 9)).toEqual(samples.subarray(0, 9));
    const m = [0, 1, 2].map((i) => samples.filter((_, k) => k % 3 === i).reduce((a, b) => a + b, 0) / S);
    for (let i = 0; i < 3; i++) expect(Math.abs(m[i] - thetaMap[i])).toBeLessThan(4 * Math.sqrt(cov[i * 4] / S));
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let c = 0;
        for (let s = 0; s < S; s++) c += (samples[s * 3 + i] - m[i]) * (samples[s * 3 + j] - m[j]);
        expect(Math.abs(c / S - cov[i * 3 + j])).toBeLessThan(0.05 * Math.sqrt(cov[i * 4] * cov[j * 4]));
      }
    }
  });
});

describe('softmax last layer', () => {
  // N = 2 examples, one feature (H = 1), K = 2 classes; θ = [W00, W01, b0, b1].
  const features = new Float32Array([1, -2]);
  const theta = [0.5, -0.5, 0.1, 0];
  const input = { likelihood: 'classification' as const, features, N: 2, H: 1, K: 2, theta, y: [0, 1] };
  const softmax2 = (f0: number, f1: number) => [1 / (1 + Math.exp(f1 - f0)), 1 / (1 + Math.exp(f0 - f1))];

  test('GGN = Σ_n φ̃φ̃ᵀ ⊗ (diag p − ppᵀ), entry by entry', () => {
    const G = lastLayerGgn(input, 'full');
    const expected = new Array(16).fill(0);
    for (const [x] of [[1], [-2]]) {
      const phi = [x, 1];
      const p = softmax2(0.5 * x + 0.1, -0.5 * x);
      const L = [p[0] - p[0] * p[0], -p[0] * p[1], -p[1] * p[0], p[1] - p[1] * p[1]];
      for (let a = 0; a < 2; a++) for (let k = 0; k < 2; k++) for (let b = 0; b < 2; b++) for (let k2 = 0; k2 < 2; k2++) {
        expected[(a * 2 + k) * 4 + (b * 2 + k2)] += phi[a] * phi[b] * L[k * 2 + k2];
      }
    }
    for (let i = 0; i < 16; i++) expect(G[i]).toBeCloseTo(expected[i], 12);
    const D = lastLayerGgn(input, 'diag');
    for (let i = 0; i < 4; i++) expect(D[i]).toBeCloseTo(expected[i * 5], 12);
    // log p(D | θ*) = log p_0(x_0) + log p_1(x_1).
    expect(lastLayerLogLikelihood(input)).toBeCloseTo(Math.log(softmax2(0.6, -0.5)[0]) + Math.log(softmax2(-0.9, 1)[1]), 12);
  });

  test('probit: softmax(f / √(1 + π/8 · var)) by hand, and close to Monte Carlo over the posterior', () => {
    const p = probitProbabilities([2, 0], [4, 0], 1, 2);
    const k = 1 / Math.sqrt(1 + (Math.PI / 8) * 4);
    expect(p[0]).toBeCloseTo(softmax2(2 * k, 0)[0], 6);
    const post = fitLastLayerLaplace(input, { priorPrecision: 0.5 });
    const cov = posteriorCovariance(post);
    const x = new Float32Array([1.5]);
    const { mean, variance } = functionalMoments(post, cov, x, 1);
    const probit = probitProbabilities(mean, variance, 1, 2);
    const S = 20000;
    const samples = sampleLastLayer(post, S, 4);
    let mc = 0;
    for (let s = 0; s < S; s++) {
      const t = samples.subarray(s * 4, s * 4 + 4);
      mc += softmax2(1.5 * t[0] + t[2], 1.5 * t[1] + t[3])[0] / S;
    }
    // The probit approximation is close to, not equal to, the MC average (within a few hundredths here).
    expect(Math.abs(probit[0] - mc)).toBeLessThan(0.03);
    expect(Math.abs(probit[0] - 0.5)).toBeLessThan(Math.abs(softmax2(mean[0], mean[1])[0] - 0.5)); // pulled towards 1/2
  });
});

test('symmetricEigen: A V = V Λ and VᵀV = I on a random symmetric matrix', () => {
  const n = 12;
  const rng = new Rng(2);
  const B = Array.from({ length: n * n }, () => rng.normal());
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) A[i * n + j] += B[i * n + k] * B[j * n + k];
  const { values, vectors } = symmetricEigen(A, n);
  for (let j = 1; j < n; j++) expect(values[j]).toBeGreaterThanOrEqual(values[j - 1]);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let av = 0;
      let vv = 0;
      for (let k = 0; k < n; k++) {
        av += A[i * n + k] * vectors[k * n + j];
        vv += vectors[k * n + i] * vectors[k * n + j];
      }
      expect(av).toBeCloseTo(values[j] * vectors[i * n + j], 9);
      expect(vv).toBeCloseTo(i === j ? 1 : 0, 12);
    }
  }
});
