// SGHMC on Bayesian linear regression (test/bayes/blr.ts): the chains' pooled
// samples match the exact posterior; the momentum is chain state and survives
// a checkpoint.
import * as fs from 'node:fs';
import { Posterior, train } from '../../src/bayes';
import { sequential } from '../../src/nn';
import { OpenResources, tempDir } from './helpers';
import { data, exactPosterior, expectMatchesPosterior, moments } from './blr';

const d = data();
const base = { model: sequential([2], [{ type: 'dense', units: 1 }]), data: d, batchSize: 10, seed: 6 };

test('SGHMC with friction samples the exact posterior of Bayesian linear regression', async () => {
  const exact = exactPosterior(d);
  const post = await train('sghmc', { ...base, stepSize: 2e-4, friction: 0.1, epochs: 600, burnIn: 100, maxSamples: 500, particles: 8, devices: 'cpu:0,cpu:1' });
  try {
    const m = moments((await post.sampleParameters()).flat());
    expectMatchesPosterior(m, exact, 0.2, [0.8, 1.25]);
  } finally {
    await post.close();
  }
});

test('SGHMC: the momentum is in the checkpoint; same seed, same chains on any layout', async () => {
  const open = new OpenResources();
  const { dir, cleanup } = tempDir('sghmc');
  const run = { ...base, stepSize: 1e-3, epochs: 4, burnIn: 1, maxSamples: 3, particles: 2 };
  try {
    const one = open.add(await train('sghmc', { ...run, devices: 'cpu:0', checkpoint: { dir } }));
    const two = open.add(await train('sghmc', { ...run, devices: 'cpu:0,cpu:1' }));
    expect(await two.sampleParameters()).toEqual(await one.sampleParameters());
    const manifest = JSON.parse(fs.readFileSync(`${dir}/manifest.json`, 'utf8'));
    expect(manifest.particles[0].chain).toEqual({ held: 3, kept: 3, aux: ['momentum'] });
    const loaded = open.add(await Posterior.load(dir));
    expect(await loaded.sampleParameters()).toEqual(await one.sampleParameters());
  } finally {
    await open.closeAll();
    cleanup();
  }
});
