// SVGD through the runtime against a posterior known in closed form: Bayesian
// linear regression. The target is log p = -(N/T) mean_loss - |theta|^2 / (2 s^2)
// with mse's mean_loss = mean (y - w.x - b)^2 (no 1/2), i.e. a Gaussian
// likelihood with noise variance sigma^2 = T/2. With theta = (w, b) and rows
// x~ = (x, 1), the exact posterior is N(mu, Sigma):
//   Sigma^-1 = X~^T X~ / sigma^2 + I / s^2 = 2 X~^T X~ + I   (T = 1, s = 1)
//   mu       = Sigma (2 X~^T y)
import { trainSVGD } from '../../src/bayes';
import { sequential } from '../../src/nn';
import { OpenResources } from './helpers';
import { N, data, exactPosterior, moments } from './blr';

const P = 32;

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

describe('SVGD with several outputs', () => {
  test('the likelihood sums over outputs per example: two copies of the target give each column the one-output posterior', async () => {
    const d = data();
    const exact = exactPosterior(d);
    const y2 = new Float32Array(2 * N);
    for (let i = 0; i < N; i++) y2[2 * i] = y2[2 * i + 1] = d.y[i];
    const post = await trainSVGD({ model: sequential([2], [{ type: 'dense', units: 2 }]), data: { ...d, y: y2, yShape: [N, 2] }, epochs: 300, batchSize: N, particles: P, devices: 'cpu:0', optimizer: { type: 'adam', lr: 0.05 }, seed: 1 });
    try {
      const ps = await post.particleParameters();
      // Flat order: weight [2, 2] row-major (w[in][out]), then bias [2]: column c is (w0c, w1c, bc).
      for (const c of [0, 1]) {
        const m = moments(ps.map((p) => Float32Array.from([p[c], p[2 + c], p[4 + c]])));
        for (let k = 0; k < 3; k++) {
          const sd = Math.sqrt(exact.Sigma[k][k]);
          expect(Math.abs(m.mean[k] - exact.mu[k])).toBeLessThan(0.15 * sd);
          // 32 particles in 6-D under-disperse more than in 3-D (measured 0.68 sd). Averaging over
          // outputs (the old likelihood) halves the precision: the spread would be sqrt(2) wider (~0.96).
          const ratio = Math.sqrt(m.cov[k][k]) / sd;
          expect(ratio).toBeGreaterThan(0.55);
          expect(ratio).toBeLessThan(0.85);
        }
      }
    } finally {
      await post.close();
    }
  });
});
