// SGLD through the runtime against Bayesian linear regression's exact posterior
// (test/bayes/blr.ts), with the settings docs/ALGORITHMS.md recommends: a
// constant step small against the posterior's curvature, a burn-in of several
// mixing times, one sample per epoch. Unlike SVGD, whose finitely many particles
// settle at a deterministic fixed point that under-disperses, each SGLD chain
// is a Markov chain whose stationary law is the posterior itself (up to O(eps)
// discretisation bias): its spread comes from the injected noise, and samples
// pooled over time and chains estimate the posterior's moments without bias.
import * as fs from 'node:fs';
import { Posterior, train } from '../../src/bayes';
import { sequential } from '../../src/nn';
import { OpenResources, tempDir } from './helpers';
import { data, exactPosterior, expectMatchesPosterior, moments } from './blr';

const MODEL = sequential([2], [{ type: 'dense', units: 1 }]);
const d = data();
const base = { model: MODEL, data: d, batchSize: 10, seed: 4, stepSize: 2e-3 };

describe('SGLD on Bayesian linear regression (closed-form posterior)', () => {
  test('pooled samples match the exact mean (0.2 sd) and sd (ratio in [0.8, 1.25]) per coordinate', async () => {
    const exact = exactPosterior(d);
    const post = await train('sgld', { ...base, epochs: 600, burnIn: 100, maxSamples: 500, particles: 8, devices: 'cpu:0,cpu:1' });
    try {
      const chains = await post.sampleParameters();
      expect(chains.map((c) => c.length)).toEqual(new Array(8).fill(500));
      const m = moments(chains.flat());
      expectMatchesPosterior(m, exact, 0.2, [0.8, 1.25]);
      // Prediction is the BMA over every kept sample of every chain.
      const pred = await post.predict({ x: new Float32Array([1, -1]), xShape: [1, 2] }, { modes: ['pred', 'mean'] });
      expect(pred.pred.shape).toEqual([1, 8 * 500, 1]);
    } finally {
      await post.close();
    }
  });

  test('same seed, same samples on any device layout; a checkpoint keeps them; resume equals an uninterrupted run', async () => {
    const open = new OpenResources();
    const { dir, cleanup } = tempDir('sgld');
    const run = { ...base, epochs: 6, burnIn: 2, thin: 1, maxSamples: 5, particles: 3 };
    try {
      const one = open.add(await train('sgld', { ...run, devices: 'cpu:0' }));
      const two = open.add(await train('sgld', { ...run, devices: 'cpu:0,cpu:1', checkpoint: { dir } }));
      const a = await one.sampleParameters();
      expect(a.map((c) => c.length)).toEqual([5, 5, 5]);
      expect(await two.sampleParameters()).toEqual(a);
      expect(await two.particleParameters()).toEqual(await one.particleParameters());
      // The kept samples are in the checkpoint and come back with it.
      const loaded = open.add(await Posterior.load(dir));
      expect(await loaded.sampleParameters()).toEqual(a);
      const x = { x: new Float32Array([0.5, 2, -1, 0]), xShape: [2, 2] };
      expect(await loaded.predict(x, { modes: ['pred'] })).toEqual(await one.predict(x, { modes: ['pred'] }));
      // Stop after 4 epochs, resume to 6: the same chains.
      const { dir: dir2, cleanup: cleanup2 } = tempDir('sgld-resume');
      try {
        await (await train('sgld', { ...run, epochs: 6, devices: 'cpu:0', checkpoint: { dir: dir2 }, onEpoch: (r) => { if (r.epoch === 4) throw new Error('stop'); } })).close().catch(() => undefined);
      } catch (err) {
        expect((err as Error).message).toBe('stop');
      }
      expect(fs.existsSync(`${dir2}/manifest.json`)).toBe(true);
      const resumed = open.add(await train('sgld', { ...run, devices: 'cpu:0,cpu:1', resumeFrom: dir2, checkpoint: { dir: dir2 } }));
      expect(await resumed.sampleParameters()).toEqual(a);
      cleanup2();
    } finally {
      await open.closeAll();
      cleanup();
    }
  });

  test('pSGLD (precondition) samples the same posterior', async () => {
    const exact = exactPosterior(d);
    const post = await train('sgld', { ...base, stepSize: 1e-3, precondition: true, epochs: 400, burnIn: 100, maxSamples: 300, particles: 8, devices: 'cpu:0' });
    try {
      const m = moments((await post.sampleParameters()).flat());
      expectMatchesPosterior(m, exact, 0.3, [0.7, 1.4]);
    } finally {
      await post.close();
    }
  });
});
