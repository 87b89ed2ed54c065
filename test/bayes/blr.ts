// Bayesian linear regression with a closed-form posterior, for the samplers'
// tests. The target is log p = -(N/T) mean_loss - |theta|^2 / (2 s^2) with mse's
// mean_loss = mean (y - w.x - b)^2 (no 1/2): a Gaussian likelihood with noise
// variance sigma^2 = T/2. With theta = (w, b) and rows x~ = (x, 1):
//   Sigma^-1 = X~^T X~ / sigma^2 + I / s^2,  mu = Sigma X~^T y / sigma^2
import { Rng } from '../../src/util/rng';

/** Examples of the data set. */
export const N = 20;

export function data() {
  const rng = new Rng(3);
  const x = new Float32Array(N * 2);
  const y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    x[2 * i] = rng.normal();
    x[2 * i + 1] = rng.normal();
    y[i] = 0.7 * x[2 * i] - 0.4 * x[2 * i + 1] + 0.3 + Math.SQRT1_2 * rng.normal();
  }
  return { x, xShape: [N, 2], y, yShape: [N, 1] };
}

function inverse3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/**
 * The exact posterior N(mu, Sigma) over theta = (w0, w1, b), in the flat parameter order
 * (weight [2, 1] then bias): Sigma^-1 = (2/T) X~^T X~ + I / s^2, mu = Sigma (2/T) X~^T y.
 */
export function exactPosterior(d: ReturnType<typeof data>, T = 1, s = 1): { mu: number[]; Sigma: number[][] } {
  const precision = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (r === c ? 1 / (s * s) : 0)));
  const rhs = [0, 0, 0];
  for (let i = 0; i < N; i++) {
    const row = [d.x[2 * i], d.x[2 * i + 1], 1];
    for (let r = 0; r < 3; r++) {
      rhs[r] += (2 / T) * row[r] * d.y[i];
      for (let c = 0; c < 3; c++) precision[r][c] += (2 / T) * row[r] * row[c];
    }
  }
  const Sigma = inverse3(precision);
  return { mu: Sigma.map((r) => r.reduce((s, v, k) => s + v * rhs[k], 0)), Sigma };
}

export function moments(ps: Float32Array[]): { mean: number[]; cov: number[][] } {
  const mean = [0, 1, 2].map((k) => ps.reduce((s, p) => s + p[k], 0) / ps.length);
  const cov = [0, 1, 2].map((a) => [0, 1, 2].map((b) => ps.reduce((s, p) => s + (p[a] - mean[a]) * (p[b] - mean[b]), 0) / ps.length));
  return { mean, cov };
}


/**
 * Asserts that samples' moments match the exact posterior per coordinate: mean within
 * `meanSd` posterior sds, sd ratio inside (lo, hi).
 */
export function expectMatchesPosterior(
  m: { mean: number[]; cov: number[][] },
  exact: { mu: number[]; Sigma: number[][] },
  meanSd: number,
  [lo, hi]: [number, number],
): void {
  for (let k = 0; k < exact.mu.length; k++) {
    const sd = Math.sqrt(exact.Sigma[k][k]);
    expect(Math.abs(m.mean[k] - exact.mu[k])).toBeLessThan(meanSd * sd);
    const ratio = Math.sqrt(m.cov[k][k]) / sd;
    expect(ratio).toBeGreaterThan(lo);
    expect(ratio).toBeLessThan(hi);
  }
}
