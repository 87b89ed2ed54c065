// Deep ensembles on real device workers: seeds, reproducibility across device
// layouts, the BMA's convexity gain, out-of-data uncertainty, random priors
// and bootstrap resamples against known answers.
import { RegressionMetrics, trainDeepEnsemble } from '../../src/bayes';
import { batchOrderSeed, bootstrapSeed, priorSeed } from '../../src/bayes/seeds';
import { PushDist } from '../../src/runtime/coordinator';
import { loadDataset } from '../../src/data';
import { compileModel, dense, sequential } from '../../src/nn';
import { Rng, particleSeed } from '../../src/util/rng';
import { OpenResources, maxAbsDiff, regressionData } from './helpers';

const MODEL = dense([3, 16, 1]);
const DATA = regressionData(96, 1);

describe('deep ensemble', () => {
  test('members differ; the same seed reproduces the posterior exactly on cpu:0 and on cpu:0,cpu:1; another seed differs', async () => {
    const opts = { model: MODEL, data: DATA, epochs: 4, batchSize: 32, particles: 4, seed: 5 };
    const run = async (devices: string, seed = 5, extra = {}) => {
      const post = await trainDeepEnsemble({ ...opts, devices, seed, ...extra });
      try {
        return { params: await post.particleParameters(), losses: post.info.trainLosses! };
      } finally {
        await post.close();
      }
    };
    const one = await run('cpu:0');
    const two = await run('cpu:0,cpu:1');
    const other = await run('cpu:0', 6);
    for (let k = 0; k < 4; k++) expect(Array.from(two.params[k])).toEqual(Array.from(one.params[k]));
    expect(two.losses).toEqual(one.losses);
    for (let k = 1; k < 4; k++) expect(maxAbsDiff(one.params[k], one.params[0])).toBeGreaterThan(0.05);
    expect(maxAbsDiff(other.params[0], one.params[0])).toBeGreaterThan(0.05);
    // Bootstrap resamples and random priors are per particle too, and just as layout-independent.
    const extra = { bootstrap: true, randomPrior: { beta: 0.5 } };
    const a = await run('cpu:0', 5, extra);
    const b = await run('cpu:0,cpu:1', 5, extra);
    for (let k = 0; k < 4; k++) expect(Array.from(b.params[k])).toEqual(Array.from(a.params[k]));
    expect(maxAbsDiff(a.params[0], one.params[0])).toBeGreaterThan(1e-3);
  });

  test('plain ensemble epochs are exactly the runtime\'s built-in stacked epochs (pushTrainEpochs)', async () => {
    const open = new OpenResources();
    try {
      const post = open.add(await trainDeepEnsemble({ model: MODEL, data: DATA, epochs: 2, batchSize: 32, particles: 3, devices: 'cpu:0', seed: 7 }));
      const dist = open.add(await PushDist.create({ devices: 'cpu:0', model: MODEL }));
      for (let k = 0; k < 3; k++) dist.createParticle({ seed: particleSeed(7, k), optimizer: { type: 'adam', lr: 0.01 } });
      await dist.launch(0, 'pushSetData', 'train', DATA);
      await dist.launch(0, 'pushTrainEpochs', { key: 'train', pids: [0, 1, 2], epochs: [0, 1], batchSize: 32, loss: 'mse', seed: batchOrderSeed(7) });
      const ours = await post.particleParameters();
      for (let k = 0; k < 3; k++) expect(Array.from(ours[k])).toEqual(Array.from(await dist.parameters(k)));
    } finally {
      await open.closeAll();
    }
  });

  test('the BMA mean squared error is no larger than the mean of the members\' (convexity)', async () => {
    const test = regressionData(200, 2);
    const post = await trainDeepEnsemble({ model: MODEL, data: DATA, epochs: 15, batchSize: 32, particles: 5, devices: 'cpu:0,cpu:1', seed: 1 });
    try {
      const result = await post.evaluate(test, test.y);
      const bma = result.bma as RegressionMetrics;
      const members = result.members as RegressionMetrics[];
      const memberMse = members.map((m) => m.rmse ** 2);
      const meanMemberMse = memberMse.reduce((s, v) => s + v, 0) / memberMse.length;
      expect(bma.rmse ** 2).toBeLessThanOrEqual(meanMemberMse);
      expect(bma.rmse ** 2).toBeLessThan(meanMemberMse * 0.999); // the members disagree, so the gain is real
      expect(Object.keys(bma).sort()).toEqual(['nll', 'rmse']);
      expect(Number.isFinite(bma.nll!)).toBe(true);
      expect(members).toHaveLength(5);
    } finally {
      await post.close();
    }
  });

  test('on the 1-D toy regression the predictive std at x = 3 is several times that inside the data', async () => {
    const toy = loadDataset('toy', { seed: 0, testFraction: 0 });
    const post = await trainDeepEnsemble({ model: dense([1, 32, 32, 1]), data: toy, epochs: 60, batchSize: 32, particles: 5, devices: 'cpu:0,cpu:1', seed: 2 });
    try {
      const inside = Array.from({ length: 11 }, (_, i) => [i * 0.05]); // x in [0, 0.5]
      const pred = await post.predict([...inside, [3]], { modes: ['mean', 'std'] });
      const std = Array.from(pred.std.data);
      const insideMax = Math.max(...std.slice(0, 11));
      expect(std[11]).toBeGreaterThanOrEqual(3 * insideMax);
      // and the fit inside the data is good: y = 0.5 sin(4x) + x
      inside.forEach(([x], i) => expect(Math.abs(pred.mean.data[i] - (0.5 * Math.sin(4 * x) + x))).toBeLessThan(0.15));
    } finally {
      await post.close();
    }
  });

  test('random prior: output = trainable(x) + beta * prior(x), the prior frozen from the particle\'s own seed', async () => {
    // lr 0 keeps the trainable network at its initialisation, so every term is known.
    const linear = sequential([1], [{ type: 'dense', units: 1 }]);
    const post = await trainDeepEnsemble({ model: linear, data: { x: [[0], [1], [2], [3]], y: [0, 1, 2, 3] }, epochs: 1, batchSize: 2, particles: 3, devices: 'cpu:0,cpu:1', seed: 9, optimizer: { type: 'sgd', lr: 0 }, randomPrior: { beta: 2 } });
    try {
      const net = compileModel(linear);
      const xs = [-1, 0.5, 4];
      const pred = await post.predict(xs.map((x) => [x]), { modes: ['pred'] });
      const params = await post.particleParameters();
      for (let k = 0; k < 3; k++) {
        const prior = net.initParams(priorSeed(particleSeed(9, k)));
        expect(Array.from(params[k])).toEqual(Array.from(net.initParams(particleSeed(9, k))));
        xs.forEach((x, i) => {
          const expected = params[k][0] * x + params[k][1] + 2 * (prior[0] * x + prior[1]);
          expect(pred.pred.data[i * 3 + k]).toBeCloseTo(expected, 5);
        });
      }
    } finally {
      await post.close();
    }
  });

  test('bootstrap: a particle trains exactly as on its own resample of the training set', async () => {
    const n = DATA.xShape[0];
    const rng = new Rng(bootstrapSeed(particleSeed(3, 0)));
    const rows = Int32Array.from({ length: n }, () => rng.int(n));
    const resampled = {
      x: Float32Array.from({ length: n * 3 }, (_, i) => DATA.x[rows[Math.floor(i / 3)] * 3 + (i % 3)]),
      xShape: [n, 3],
      y: Float32Array.from(rows, (r) => DATA.y[r]),
      yShape: [n, 1],
    };
    const opts = { model: MODEL, epochs: 3, batchSize: 32, particles: 1, devices: 'cpu:0', seed: 3 };
    const open = new OpenResources();
    try {
      const boot = open.add(await trainDeepEnsemble({ ...opts, data: DATA, bootstrap: true }));
      const plain = open.add(await trainDeepEnsemble({ ...opts, data: resampled }));
      expect(new Set(rows).size).toBeLessThan(n); // it is a resample with replacement
      const [a] = await boot.particleParameters();
      const [b] = await plain.particleParameters();
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    } finally {
      await open.closeAll();
    }
  });
});
