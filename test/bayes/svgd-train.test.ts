// SVGD through the runtime against a posterior known in closed form: Bayesian
// linear regression. The target is log p = -(N/T) mean_loss - |theta|^2 / (2 s^2)
// with mse's mean_loss = mean (y - w.x - b)^2 (no 1/2), i.e. a Gaussian
// likelihood with noise variance sigma^2 = T/2. With theta = (w, b) and rows
// x~ = (x, 1), the exact posterior is N(mu, Sigma):
//   Sigma^-1 = X~^T X~ / sigma^2 + I / s^2 = 2 X~^T X~ + I   (T = 1, s = 1)
//   mu       = Sigma (2 X~^T y)
import { trainSVGD } from '../../src/bayes';
import { sequential } from '../../src/nn';
import { Rng } from '../../src/util/rng';
import { OpenResources } from './helpers';

const N = 20;
const P = 32;

function data() {
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
function exactPosterior(d: ReturnType<typeof data>, T = 1, s = 1): { mu: number[]; Sigma: number[][] } {
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

function moments(ps: Float32Array[]): { mean: number[]; cov: number[][] } {
  const mean = [0, 1, 2].map((k) => ps.reduce((s, p) => s + p[k], 0) / ps.length);
  const cov = [0, 1, 2].map((a) => [0, 1, 2].map((b) => ps.reduce((s, p) => s + (p[a] - mean[a]) * (p[b] - mean[b]), 0) / ps.length));
  return { mean, cov };
}

describe('SVGD on Bayesian linear regression (closed-form posterior)', () => {
  const d = data();
  const exact = exactPosterior(d);
  const sd = [0, 1, 2].map((k) => Math.sqrt(exact.Sigma[k][k]));
  // Full-batch steps make the dynamics deterministic; Adam (lr 0.05, 300 epochs) reaches the fixed point.
  const train = (repulsive: boolean, temperature = 1, priorStd = 1) =>
    trainSVGD({ model: sequential([2], [{ type: 'dense', units: 1 }]), data: d, epochs: 300, batchSize: N, particles: P, devices: 'cpu:0,cpu:1', optimizer: { type: 'adam', lr: 0.05 }, seed: 1, repulsive, temperature, priorStd });

  test('particles match the exact mean and covariance; without the repulsive term they collapse', async () => {
    const open = new OpenResources();
    try {
      const post = open.add(await train(true));
      const collapsedPost = open.add(await train(false));
      const spread = moments(await post.particleParameters());
      const collapsed = moments(await collapsedPost.particleParameters());
      for (let k = 0; k < 3; k++) {
        // Mean: SVGD's fixed point is centred on the posterior mean; 0.1 sd is below the
        // standard error of 32 exact draws (sd / sqrt(32) = 0.18 sd).
        expect(Math.abs(spread.mean[k] - exact.mu[k])).toBeLessThan(0.1 * sd[k]);
        // Spread: with finitely many particles and an RBF kernel SVGD under-disperses a little
        // (measured 0.87 sd in this 3-D problem with 32 particles, 0.80 with 16, 0.91 with 64:
        // Ba et al. 2021 on SVGD's variance collapse); accept [0.75, 1.1] sd.
        const ratio = Math.sqrt(spread.cov[k][k]) / sd[k];
        expect(ratio).toBeGreaterThan(0.75);
        expect(ratio).toBeLessThan(1.1);
        // Without repulsion every particle climbs to the MAP (= the mean of a Gaussian posterior).
        expect(Math.abs(collapsed.mean[k] - exact.mu[k])).toBeLessThan(0.01 * sd[k]);
        expect(Math.sqrt(collapsed.cov[k][k])).toBeLessThan(0.01 * sd[k]);
      }
      // The correlation structure of the posterior is reproduced too.
      for (const [a, b] of [[0, 1], [0, 2], [1, 2]]) {
        const corr = (c: number[][]) => c[a][b] / Math.sqrt(c[a][a] * c[b][b]);
        expect(Math.abs(corr(spread.cov) - corr(exact.Sigma))).toBeLessThan(0.1);
      }
      // Every step was one round of messages per device (+1 per epoch to apply the last update).
      const timing = post.info.timing!;
      expect(timing.rounds).toBe(300 * 2);
      expect(timing.leaderMs).toBeGreaterThan(0);
      expect(timing.messagingMs).toBeGreaterThanOrEqual(0);
    } finally {
      await open.closeAll();
    }
  });

  test('temperature and prior std enter the target as -(N/T) mean_loss - |theta|^2 / (2 priorStd^2)', async () => {
    const T = 4;
    const priorStd = 0.3; // strong enough to pull the mean visibly towards 0
    const hot = exactPosterior(d, T, priorStd);
    const post = await train(true, T, priorStd);
    try {
      const m = moments(await post.particleParameters());
      for (let k = 0; k < 3; k++) {
        const sdk = Math.sqrt(hot.Sigma[k][k]);
        expect(Math.abs(hot.mu[k] - exact.mu[k])).toBeGreaterThan(0.5 * sdk); // a different posterior...
        expect(Math.abs(m.mean[k] - hot.mu[k])).toBeLessThan(0.1 * sdk); // ...and SVGD finds it
        const ratio = Math.sqrt(m.cov[k][k]) / sdk;
        expect(ratio).toBeGreaterThan(0.75);
        expect(ratio).toBeLessThan(1.1);
      }
    } finally {
      await post.close();
    }
  });
});
