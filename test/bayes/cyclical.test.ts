// Cyclical SGLD against a deep ensemble on two moons, same budget (particles,
// epochs, batch size, model): far from the data (radius 3 and more from the
// moons' centre) the ensemble's members agree and are confident, while the
// cyclical chains' samples -- several modes per chain, each sampled with noise
// in the small-step part of its cycle -- disagree, so the BMA's predictive
// entropy there is higher.
import { train } from '../../src/bayes';
import { makeTwoMoons } from '../../src/data/synthetic';
import { dense } from '../../src/nn';
import { OpenResources } from './helpers';

/** Points on circles of radius 3, 4 and 5 around the moons' centre (0.5, 0.25). */
function farPoints(): { x: Float32Array; xShape: number[] } {
  const pts: number[] = [];
  for (const r of [3, 4, 5]) for (let k = 0; k < 36; k++) pts.push(0.5 + r * Math.cos((k * Math.PI) / 18), 0.25 + r * Math.sin((k * Math.PI) / 18));
  return { x: Float32Array.from(pts), xShape: [pts.length / 2, 2] };
}

const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;

test('far from two moons, cyclical SGLD is less certain than a deep ensemble on the same budget', async () => {
  const open = new OpenResources();
  const budget = { model: dense([2, 32, 32, 2]), data: makeTwoMoons(200, 1), epochs: 40, batchSize: 50, particles: 4, seed: 2, devices: 'cpu:0' };
  try {
    const ensemble = open.add(await train('ensemble', { ...budget, optimizer: { type: 'adam', lr: 0.01 } }));
    const chains = open.add(await train('cyclical', { ...budget, stepSize: 2e-3, cycles: 4, maxSamples: 12, priorStd: 1 }));
    const far = farPoints();
    const hEnsemble = mean((await ensemble.predict(far, { modes: ['entropy'] })).entropy.data);
    const hCyclical = mean((await chains.predict(far, { modes: ['entropy'] })).entropy.data);
    // Both fit the moons (the comparison is between two working posteriors).
    const test = makeTwoMoons(200, 9);
    expect((await ensemble.evaluate(test)).bma).toMatchObject({ accuracy: expect.any(Number) });
    expect(((await chains.evaluate(test)).bma as { accuracy: number }).accuracy).toBeGreaterThan(0.85);
    expect(((await ensemble.evaluate(test)).bma as { accuracy: number }).accuracy).toBeGreaterThan(0.85);
    expect(hCyclical).toBeGreaterThan(hEnsemble);
    // Every chain kept 3 samples in each of its 4 cycles: 12 members per particle.
    expect((await chains.predict(far, { modes: ['prob'] })).prob.shape).toEqual([far.xShape[0], 4 * 12, 2]);
  } finally {
    await open.closeAll();
  }
});
