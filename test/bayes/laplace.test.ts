// Last-layer Laplace through real workers: the fit on a linear-Gaussian last
// layer against laplace-torch's formulas computed by hand here, the mixture of
// Laplaces of several particles, the checkpoint round trip (and a checkpoint
// saved before the fit), and the codec's checks.
import * as path from 'node:path';
import { Posterior, train } from '../../src/bayes';
import { laplace, decodeFit } from '../../src/bayes/algorithms/laplace';
import { readParticleStates } from '../../src/bayes/particle-state';
import { dense } from '../../src/nn';
import type { LastLayerLaplace } from '../../src/uncertainty/laplace-math';
import { posteriorCovariance } from '../../src/uncertainty/laplace-math';
import { Rng } from '../../src/util/rng';
import { PushInputError } from '../../src/util/errors';
import { tempDir } from './helpers';

jest.setTimeout(120_000);

/** y = 0.7 x0 - 0.4 x1 + 0.3 + 0.5 noise. */
function linearData(n: number, seed: number) {
  const rng = new Rng(seed);
  const x = rng.fillNormal(new Float32Array(2 * n));
  const y = Float32Array.from({ length: n }, (_, i) => 0.7 * x[2 * i] - 0.4 * x[2 * i + 1] + 0.3 + 0.5 * rng.normal());
  return { x, xShape: [n, 2], y, yShape: [n, 1] };
}

/** Two Gaussian blobs in 2-D, labels 0 / 1. */
function blobs(n: number, seed: number) {
  const rng = new Rng(seed);
  const x = new Float32Array(2 * n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    x[2 * i] = (y[i] ? 1.5 : -1.5) + 0.8 * rng.normal();
    x[2 * i + 1] = 0.8 * rng.normal();
  }
  return { x, xShape: [n, 2], y, yShape: [n] };
}

function det3(m: number[]): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
}

function inv3(m: number[]): number[] {
  const d = det3(m);
  const c = [
    m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
    m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
    m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3],
  ];
  return c.map((v) => v / d);
}

/**
 * laplace-torch's last-layer Laplace for f = w·x + b with Gaussian noise, by hand: σ² the
 * MAP's mean squared residual, G = Φ̃ᵀΦ̃/σ², δ maximising
 * log p(D|θ*) − ½[log det(G + δI) − P log δ + δ‖θ*‖²] (golden section on log δ), Σ = (G + δI)⁻¹.
 */
function byHand(theta: ArrayLike<number>, data: ReturnType<typeof linearData>, given?: number) {
  const N = data.y.length;
  const rows = Array.from({ length: N }, (_, n) => [data.x[2 * n], data.x[2 * n + 1], 1]);
  let sse = 0;
  rows.forEach((r, n) => (sse += (data.y[n] - (r[0] * theta[0] + r[1] * theta[1] + r[2] * theta[2])) ** 2));
  const s2 = sse / N;
  const G = new Array<number>(9).fill(0);
  for (const r of rows) for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) G[3 * a + b] += (r[a] * r[b]) / s2;
  const norm2 = theta[0] ** 2 + theta[1] ** 2 + theta[2] ** 2;
  const logLik = -sse / (2 * s2) - N * Math.log(Math.sqrt(2 * Math.PI * s2));
  const plus = (d: number) => G.map((v, i) => v + (i % 4 === 0 ? d : 0));
  const logMl = (d: number) => logLik - 0.5 * (Math.log(det3(plus(d))) - 3 * Math.log(d) + d * norm2);
  let delta = given;
  if (delta === undefined) {
    let lo = Math.log(1e-8);
    let hi = Math.log(1e8);
    const g = (Math.sqrt(5) - 1) / 2;
    for (let i = 0; i < 200; i++) {
      const a = hi - g * (hi - lo);
      const b = lo + g * (hi - lo);
      if (logMl(Math.exp(a)) > logMl(Math.exp(b))) hi = b;
      else lo = a;
    }
    delta = Math.exp((lo + hi) / 2);
  }
  return { sigma: Math.sqrt(s2), G, delta, cov: inv3(plus(delta)), logMl: logMl(delta) };
}

async function fitsOf(post: Posterior): Promise<LastLayerLaplace[]> {
  return (await readParticleStates(post.liveCluster, post.algorithm)).map((s) => s.state as LastLayerLaplace);
}

test('a linear-Gaussian last layer: covariance, prior precision, noise and evidence match laplace-torch formulas by hand; particles on two devices', async () => {
  const data = linearData(40, 3);
  const post = await train('laplace', { model: dense([2, 1]), data, epochs: 30, batchSize: 10, lr: 0.05, particles: 2, devices: 'cpu:0,cpu:1', seed: 4 });
  try {
    const params = await post.particleParameters();
    const fits = await fitsOf(post);
    expect(fits).toHaveLength(2);
    fits.forEach((fit, k) => {
      const h = byHand(params[k], data);
      expect(fit.structure).toBe('full');
      expect(Array.from(fit.theta)).toEqual(Array.from(params[k]));
      expect(fit.sigmaNoise).toBeCloseTo(h.sigma, 5);
      expect(Math.abs(Math.log(fit.priorPrecision / h.delta))).toBeLessThan(1e-4);
      const cov = posteriorCovariance(fit);
      cov.forEach((v, i) => expect(Math.abs(v - h.cov[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(h.cov[i]))));
      expect(fit.logMarginalLikelihood).toBeCloseTo(h.logMl, 4);
    });
    // Two particles, two MAP networks, two Gaussians.
    expect(fits[0].theta[0]).not.toBe(fits[1].theta[0]);
  } finally {
    await post.close();
  }
  // Diagonal, with the prior precision given: G's diagonal, δ as given.
  const diag = await train('laplace', { model: dense([2, 1]), data, epochs: 30, batchSize: 10, lr: 0.05, particles: 1, seed: 4, hessian: 'diag', priorPrecision: 2 });
  try {
    const [fit] = await fitsOf(diag);
    const h = byHand((await diag.particleParameters())[0], data, 2);
    expect(fit.priorPrecision).toBe(2);
    expect(fit.factor.vectors).toBeUndefined();
    Array.from(fit.factor.values).forEach((v, a) => expect(v).toBeCloseTo(h.G[4 * a], 6));
    expect(fit.logMarginalLikelihood).not.toBeCloseTo(h.logMl, 2); // the diagonal drops G's off-diagonal terms
  } finally {
    await diag.close();
  }
});

test('several particles give a mixture of Laplaces: each particle\'s samples have its own Gaussian\'s mean and variance', async () => {
  const data = linearData(40, 8);
  const S = 400;
  const post = await train('laplace', { model: dense([2, 1]), data, epochs: 4, batchSize: 10, lr: 0.05, particles: 3, devices: 'cpu:0,cpu:1', seed: 9, numSamples: S });
  try {
    const fits = await fitsOf(post);
    const xs = [[0, 0], [2, -1], [-3, 2]];
    const before = await post.numTensors();
    const out = await post.predict({ x: Float32Array.from(xs.flat()), xShape: [3, 2] }, { modes: ['pred', 'mean'] });
    expect(await post.numTensors()).toEqual(before);
    expect(out.pred.shape).toEqual([3, 3 * S, 1]);
    xs.forEach((x, i) => {
      const phi = [x[0], x[1], 1];
      let bma = 0;
      fits.forEach((fit, k) => {
        const cov = posteriorCovariance(fit);
        const mean = phi.reduce((s, v, a) => s + v * fit.theta[a], 0);
        let variance = 0;
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) variance += phi[a] * cov[3 * a + b] * phi[b];
        const m = Array.from(out.pred.data.subarray(i * 3 * S + k * S, i * 3 * S + (k + 1) * S));
        const mu = m.reduce((s, v) => s + v, 0) / S;
        const v = m.reduce((s, u) => s + (u - mu) ** 2, 0) / (S - 1);
        expect(Math.abs(mu - mean)).toBeLessThan(4 * Math.sqrt(variance / S) + 1e-5);
        expect(v / variance).toBeGreaterThan(0.75);
        expect(v / variance).toBeLessThan(1.3);
        bma += mu / 3;
      });
      expect(out.mean.data[i]).toBeCloseTo(bma, 4);
    });
    // The particles' Gaussians differ (three MAPs after 4 epochs from three inits).
    expect(new Set(fits.map((f) => f.theta[0].toFixed(4))).size).toBe(3);
  } finally {
    await post.close();
  }
});

test('checkpoints: identical predictions after a round trip (MC and probit), a pre-fit checkpoint is refused, then fitted on resume', async () => {
  const { dir, cleanup } = tempDir('laplace');
  const data = blobs(64, 2);
  const grid = { x: Float32Array.from([0, 0, 3, 1, -2, -1, 8, 8]), xShape: [4, 2] };
  const opts = { model: dense([2, 8, 2]), data, loss: 'cross-entropy' as const, epochs: 3, batchSize: 16, lr: 0.05, particles: 2, seed: 5, numSamples: 6 };
  const mid = path.join(dir, 'mid');
  try {
    const post = await train('laplace', {
      ...opts,
      checkpoint: { dir: path.join(dir, 'final') },
      onEpoch: async (r) => {
        if (r.epoch === 2) await r.posterior.save(mid); // before the last epoch: no fit yet
      },
    });
    let live: Float32Array;
    try {
      live = (await post.predict(grid, { modes: ['logits'] })).logits.data as Float32Array;
      expect(live.length).toBe(4 * 12 * 2);
    } finally {
      await post.close();
    }
    const loaded = await Posterior.load(path.join(dir, 'final'));
    try {
      expect(Array.from((await loaded.predict(grid, { modes: ['logits'] })).logits.data)).toEqual(Array.from(live));
    } finally {
      await loaded.close();
    }
    const early = await Posterior.load(mid);
    try {
      await expect(early.predict(grid)).rejects.toThrow(/particle 0 has no fitted laplace posterior: its checkpoint was saved before training ended/);
    } finally {
      await early.close();
    }
    const resumed = await train('laplace', { ...opts, resumeFrom: mid });
    try {
      expect(Array.from((await resumed.predict(grid, { modes: ['logits'] })).logits.data)).toEqual(Array.from(live));
    } finally {
      await resumed.close();
    }
    // Probit: one member per particle, softmax(f*/√(1 + π/8 var)); also restored exactly.
    const probit = await train('laplace', { ...opts, predictive: 'probit', checkpoint: { dir: path.join(dir, 'probit') } });
    let p1: Float32Array;
    try {
      const r = await probit.predict(grid, { modes: ['logits', 'mean_prob'] });
      expect(r.logits.shape).toEqual([4, 2, 2]);
      p1 = r.mean_prob.data as Float32Array;
    } finally {
      await probit.close();
    }
    const probitLoaded = await Posterior.load(path.join(dir, 'probit'));
    try {
      expect(Array.from((await probitLoaded.predict(grid, { modes: ['mean_prob'] })).mean_prob.data)).toEqual(Array.from(p1));
    } finally {
      await probitLoaded.close();
    }
  } finally {
    cleanup();
  }
});

test('the codec refuses a corrupt fitted posterior; bad options get one-line errors', () => {
  const fit = { likelihood: 'regression', structure: 'full', H: 1, K: 1, P: 2, theta: Float64Array.from([1, 2]), priorPrecision: 1, sigmaNoise: 1, logMarginalLikelihood: -3, factor: { structure: 'full', P: 2, values: Float64Array.from([0, 4]), vectors: Float64Array.from([1, 0, 0, 1]) } };
  const { fields, files } = laplace.codec!.encode(fit);
  const record = fields as Record<string, unknown>;
  const back = laplace.codec!.decode(record, () => files.laplace, 10, 'p') as LastLayerLaplace;
  expect(Array.from(back.factor.vectors!)).toEqual([1, 0, 0, 1]);
  const r = record.laplace as Record<string, unknown>;
  expect(() => decodeFit({ ...r, H: 5 }, files.laplace, 4, 'p')).toThrow(/laplace last layer has 6 parameters, more than the model's/);
  expect(() => decodeFit(r, files.laplace.subarray(8), 10, 'p')).toThrow(/laplace file holds 56 bytes, expected 64/);
  expect(() => decodeFit({ ...r, priorPrecision: -1 }, files.laplace, 10, 'p')).toThrow(/laplace.priorPrecision is -1/);
  expect(() => decodeFit({ ...r, structure: 'kfac' }, files.laplace, 10, 'p')).toThrow(PushInputError);
  const nan = files.laplace.slice();
  new Float64Array(nan.buffer)[3] = NaN;
  expect(() => decodeFit(r, nan, 10, 'p')).toThrow(/not finite/);
  expect(laplace.codec!.decode({}, () => undefined, 10, 'p')).toBeUndefined();
  expect(() => laplace.resolve({ hessian: 'kfac' }, {} as never)).toThrow(/^hessian "kfac": expected one of full, diag$/);
  expect(() => laplace.resolve({ predictive: 'glm' }, {} as never)).toThrow(/expected one of mc, probit/);
  const o = laplace.resolve({ predictive: 'probit' }, {} as never);
  expect(() => laplace.driver(o, dense([2, 1]), {} as never, { numParams: 3, outputSize: 1, loss: 'mse' })).toThrow(/probit" is for classification/);
  expect(() => laplace.driver(laplace.resolve({}, {} as never), dense([2, 2000, 4]), {} as never, { numParams: 2000 * 3 + 2001 * 4, outputSize: 4, loss: 'mse' })).toThrow(/use hessian "diag"/);
});
