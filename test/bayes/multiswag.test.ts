// MultiSWAG through the runtime: each particle's moments, collected in its
// device worker, against a direct computation over its iterates; weight samples
// against the SWAG covariance; resuming from a checkpoint against an
// uninterrupted run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Posterior, trainMultiSWAG } from '../../src/bayes';
import { dense } from '../../src/nn';
import { OpenResources, maxAbsDiff, regressionData, tempDir } from './helpers';

const MODEL = dense([3, 8, 1]); // 41 parameters
const DATA = regressionData(64, 4);
const BASE = { model: MODEL, data: DATA, batchSize: 16, particles: 3, optimizer: { type: 'adam' as const, lr: 0.01 }, seed: 8 };

describe('MultiSWAG', () => {
  test('per-particle moments and deviations equal a direct computation over the collected iterates', async () => {
    const K = 3;
    const iterates: Float32Array[][] = [[], [], []];
    const { dir, cleanup } = tempDir('swag');
    const post = await trainMultiSWAG({
      ...BASE,
      epochs: 8,
      swagEpochs: 6,
      rank: K,
      swagLr: 0.005,
      devices: 'cpu:0,cpu:1',
      // Collection happens in the workers at the end of an epoch, before this report.
      onEpoch: async ({ epoch, posterior }) => {
        if (epoch > 2) (await posterior.particleParameters()).forEach((p, k) => iterates[k].push(p));
      },
    });
    try {
      const moments = await post.swagMoments();
      expect(moments.map((m) => m.count)).toEqual([6, 6, 6]); // one counter per particle
      for (let k = 0; k < 3; k++) {
        const its = iterates[k];
        const m = moments[k];
        const n = m.n;
        const runningMeans: Float64Array[] = [];
        const mean = new Float64Array(n);
        const sq = new Float64Array(n);
        its.forEach((th, t) => {
          for (let j = 0; j < n; j++) {
            mean[j] += (th[j] - mean[j]) / (t + 1);
            sq[j] += (th[j] * th[j] - sq[j]) / (t + 1);
          }
          runningMeans.push(mean.slice());
        });
        for (let j = 0; j < n; j++) {
          const direct = its.reduce((s, th) => s + th[j], 0) / its.length;
          expect(m.mean[j]).toBeCloseTo(direct, 6);
          expect(m.sqMean[j]).toBeCloseTo(its.reduce((s, th) => s + th[j] * th[j], 0) / its.length, 6);
        }
        // The last K deviations theta_t - mean_t (mean after adding theta_t), oldest first.
        expect(m.numDeviations).toBe(K);
        for (let i = 0; i < K; i++) {
          const t = its.length - K + i;
          const want = Array.from(its[t], (v, j) => v - runningMeans[t][j]);
          expect(maxAbsDiff(m.deviations.subarray(i * n, (i + 1) * n), want)).toBeLessThan(1e-6);
        }
      }
      expect(maxAbsDiff(moments[0].mean, moments[1].mean)).toBeGreaterThan(0.01); // particles are their own
      // SWAG epochs ran at swagLr: the checkpoint records each particle's learning rate.
      await post.save(dir);
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      expect(manifest.particles.map((p: { lr: number }) => p.lr)).toEqual([0.005, 0.005, 0.005]);
      expect(manifest.particles[0].swag).toEqual({ count: 6, rank: K, numDeviations: K });
    } finally {
      await post.close();
      cleanup();
    }
  });

  test('swagLr is a constant rate in the SWAG phase: a scheduler changes nothing there (Maddox et al.)', async () => {
    const run = { ...BASE, particles: 2, epochs: 4, swagEpochs: 4, swagLr: 0.05, devices: 'cpu:0' };
    const open = new OpenResources();
    try {
      const plain = open.add(await trainMultiSWAG(run));
      const scheduled = open.add(await trainMultiSWAG({ ...run, scheduler: { type: 'cosine', tMax: 4 } }));
      expect(await scheduled.particleParameters()).toEqual(await plain.particleParameters());
      const [a, b] = [await plain.swagMoments(), await scheduled.swagMoments()];
      expect(b[0].sqMean).toEqual(a[0].sqMean);
    } finally {
      await open.closeAll();
    }
  });

  test('weight samples have the SWAG covariance scale * (diag(var) + D^T D / (K - 1))', async () => {
    const K = 4;
    const post = await trainMultiSWAG({ ...BASE, particles: 1, epochs: 10, swagEpochs: 8, rank: K, scale: 0.5, devices: 'cpu:0' });
    try {
      const [m] = await post.swagMoments();
      const S = 4000;
      const [samples] = await post.sampleParameters({ numSamples: S });
      const n = m.n;
      const Sigma = (i: number, j: number) => {
        let low = 0;
        for (let r = 0; r < K; r++) low += m.deviations[r * n + i] * m.deviations[r * n + j];
        const diag = i === j ? Math.max(m.sqMean[i] - m.mean[i] ** 2, 1e-30) : 0;
        return 0.5 * (diag + low / (K - 1));
      };
      const mean = Array.from({ length: n }, (_, j) => samples.reduce((s, th) => s + th[j], 0) / S);
      let worst = 0;
      let lowRankSignal = 0;
      for (let i = 0; i < n; i++) {
        expect(Math.abs(mean[i] - m.mean[i])).toBeLessThan(5 * Math.sqrt(Sigma(i, i) / S) + 1e-6);
        for (let j = 0; j < n; j++) {
          let c = 0;
          for (const th of samples) c += (th[i] - mean[i]) * (th[j] - mean[j]);
          c /= S - 1;
          // Standard error of a sample covariance of Gaussian draws.
          const se = Math.sqrt((Sigma(i, i) * Sigma(j, j) + Sigma(i, j) ** 2) / S) + 1e-12;
          worst = Math.max(worst, Math.abs(c - Sigma(i, j)) / se);
          if (i !== j) lowRankSignal = Math.max(lowRankSignal, Math.abs(Sigma(i, j)) / se);
        }
      }
      expect(worst).toBeLessThan(5);
      expect(lowRankSignal).toBeGreaterThan(10); // the low-rank part is there, and matched
    } finally {
      await post.close();
    }
  });

  test('a run stopped after epoch 5 and resumed from its checkpoint ends exactly like an uninterrupted one', async () => {
    const { dir, cleanup } = tempDir('resume');
    const opts = { ...BASE, epochs: 8, swagEpochs: 4, rank: 2 };
    const open = new OpenResources();
    const full = open.add(await trainMultiSWAG({ ...opts, devices: 'cpu:0,cpu:1' }));
    const stop = new AbortController();
    const interrupted = trainMultiSWAG({
      ...opts,
      devices: 'cpu:0,cpu:1',
      checkpoint: { dir, every: 1 },
      signal: stop.signal,
      onEpoch: ({ epoch }) => {
        if (epoch === 5) stop.abort();
      },
    });
    try {
      await expect(interrupted).rejects.toThrow(/abort/i);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).epoch).toBe(5);
      const resumed = open.add(await trainMultiSWAG({ ...opts, devices: 'cpu:0', resumeFrom: dir }));
      expect(resumed.info.epoch).toBe(8);
      const [a, b] = [await full.particleParameters(), await resumed.particleParameters()];
      for (let k = 0; k < 3; k++) expect(Array.from(b[k])).toEqual(Array.from(a[k]));
      const [ma, mb] = [await full.swagMoments(), await resumed.swagMoments()];
      for (let k = 0; k < 3; k++) {
        expect(mb[k].count).toBe(ma[k].count);
        expect(Array.from(mb[k].mean)).toEqual(Array.from(ma[k].mean));
        expect(Array.from(mb[k].deviations)).toEqual(Array.from(ma[k].deviations));
      }
      const x = regressionData(10, 9);
      const [pa, pb] = [await full.predict(x, { modes: ['mean', 'std'] }), await resumed.predict(x, { modes: ['mean', 'std'] })];
      expect(Array.from(pb.mean.data)).toEqual(Array.from(pa.mean.data));
      expect(Array.from(pb.std.data)).toEqual(Array.from(pa.std.data));
      // Resuming with other training options is refused.
      await expect(trainMultiSWAG({ ...opts, batchSize: 32, resumeFrom: dir })).rejects.toThrow(/cannot resume from .*: its batchSize is 16, this run's is 32/);
      await expect(trainMultiSWAG({ ...opts, data: regressionData(64, 5), resumeFrom: dir })).rejects.toThrow(/trained on other data/);
    } finally {
      await open.closeAll();
      cleanup();
    }
  });

  test('a saved MultiSWAG posterior predicts the same after loading', async () => {
    const { dir, cleanup } = tempDir('swag-load');
    const post = await trainMultiSWAG({ ...BASE, epochs: 4, swagEpochs: 2, rank: 2, numSamples: 5, devices: 'cpu:0,cpu:1' });
    try {
      const x = regressionData(7, 10);
      const before = await post.predict(x, { modes: ['mean', 'pred'] });
      expect(before.pred.shape).toEqual([7, 15, 1]); // 3 particles x 5 weight samples
      await post.save(dir);
      const loaded = await Posterior.load(dir, { devices: 'cpu:0' });
      try {
        const after = await loaded.predict(x, { modes: ['mean', 'pred'] });
        expect(Array.from(after.pred.data)).toEqual(Array.from(before.pred.data));
        expect(Array.from(after.mean.data)).toEqual(Array.from(before.mean.data));
      } finally {
        await loaded.close();
      }
    } finally {
      await post.close();
      cleanup();
    }
  });
});
