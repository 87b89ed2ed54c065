// Posterior objects: checkpoints (save, load on other devices, corrupt and
// foreign directories), classification metrics, original units, MC dropout
// predictions, input errors and tensor leaks in the workers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClassificationMetrics, Posterior, trainDeepEnsemble, trainMCDropout, trainMultiSWAG, trainSVGD } from '../../src/bayes';
import { loadDataset } from '../../src/data';
import { dense } from '../../src/nn';
import { PushInputError } from '../../src/util/errors';
import { regressionData, tempDir } from './helpers';
import { checkpointFile } from '../cli/helpers';

const MODEL = dense([3, 16, 1]);
const DATA = regressionData(64, 1);

describe('checkpoints', () => {
  const { dir: root, cleanup } = tempDir('ckpt');
  const dir = path.join(root, 'ensemble');
  const copy = (name: string) => {
    const to = path.join(root, name);
    fs.cpSync(dir, to, { recursive: true });
    return to;
  };
  afterAll(cleanup);

  test('save, then load on another device list: the same parameters and predictions', async () => {
    const post = await trainDeepEnsemble({ model: MODEL, data: DATA, epochs: 3, batchSize: 16, particles: 3, devices: 'cpu:0,cpu:1', seed: 4, randomPrior: { beta: 1 }, meta: { dataSpec: 'test' } });
    const x = regressionData(9, 2);
    try {
      const before = await post.predict(x, { modes: ['mean', 'std', 'pred'] });
      await post.save(dir);
      await post.save(dir); // replacing a checkpoint is fine
      expect(fs.readdirSync(root).sort()).toEqual(['ensemble']); // no temporary or old directories left
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      expect(manifest).toMatchObject({ format: 'push-ens/checkpoint', formatVersion: 2, algorithm: 'ensemble', epoch: 3, devices: ['cpu:0', 'cpu:1'], meta: { dataSpec: 'test' } });
      expect(manifest.pushEnsVersion).toMatch(/^\d+\.\d+\.\d+/);
      expect(manifest.files.map((f: { name: string }) => f.name)).toContain('particle-002.prior.f32');
      // Another device list, and devices as child processes instead of threads.
      const loaded = await Posterior.load(dir, { devices: 'cpu:0', isolation: 'process' });
      try {
        expect(loaded.info.devices).toEqual(['cpu:0']);
        const [pa, pb] = [await post.particleParameters(), await loaded.particleParameters()];
        for (let k = 0; k < 3; k++) expect(Array.from(pb[k])).toEqual(Array.from(pa[k]));
        const after = await loaded.predict(x, { modes: ['mean', 'std', 'pred'] });
        for (const m of ['mean', 'std', 'pred']) expect(Array.from(after[m].data)).toEqual(Array.from(before[m].data));
      } finally {
        await loaded.close();
      }
    } finally {
      await post.close();
    }
  });

  test('a corrupt manifest, a truncated weights file, a changed byte and a foreign directory give one-line errors', async () => {
    const badJson = copy('bad-json');
    fs.writeFileSync(path.join(badJson, 'manifest.json'), '{"format": "push-ens/checkpoint", ');
    await expect(Posterior.load(badJson)).rejects.toThrow(/checkpoint .*bad-json: manifest\.json is not valid JSON .*: the checkpoint is corrupt/);

    const truncated = copy('truncated');
    const weights = checkpointFile(truncated, 'particle-001.params.f32');
    fs.truncateSync(weights, 40);
    await expect(Posterior.load(truncated)).rejects.toThrow(/file g\d{6}-particle-001\.params\.f32 has 40 bytes, expected \d+: the checkpoint is truncated or corrupt/);

    const flipped = copy('flipped');
    const opt = checkpointFile(flipped, 'particle-000.optimizer.f32');
    const bytes = fs.readFileSync(opt);
    bytes[7] ^= 0xff;
    fs.writeFileSync(opt, bytes);
    await expect(Posterior.load(flipped)).rejects.toThrow(/particle-000\.optimizer\.f32 does not match its sha256/);

    const foreign = path.join(root, 'foreign');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'manifest.json'), JSON.stringify({ format: 'something-else' }));
    await expect(Posterior.load(foreign)).rejects.toThrow(/is not a push-ens checkpoint: manifest\.json has format "something-else"/);
    await expect(Posterior.load(path.join(root, 'nothing-here'))).rejects.toThrow(/does not exist/);
    const err = await Posterior.load(root).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PushInputError);
    expect((err as Error).message).toMatch(/is not a push-ens checkpoint: it has no manifest\.json/);
    expect((err as Error).message).not.toMatch(/\n/);
  });

  test('saving refuses to replace a directory that is not a checkpoint', async () => {
    const other = path.join(root, 'user-files');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'notes.txt'), 'keep me');
    const post = await Posterior.load(dir);
    try {
      await expect(post.save(other)).rejects.toThrow(/exists and is not a push-ens checkpoint: refusing to replace it/);
      expect(fs.readFileSync(path.join(other, 'notes.txt'), 'utf8')).toBe('keep me');
    } finally {
      await post.close();
    }
  });
});

describe('classification', () => {
  test('two moons: the BMA\'s accuracy, NLL, ECE and Brier, and each particle\'s', async () => {
    const split = loadDataset('two-moons:400', { seed: 3, testFraction: 0.25 });
    const post = await trainDeepEnsemble({ model: dense([2, 32, 32, 2]), data: split, epochs: 30, batchSize: 32, particles: 3, devices: 'cpu:0,cpu:1', seed: 1 });
    try {
      expect(post.task).toBe('classification');
      const metrics = post.info.metrics!; // evaluated on the held-out split after training
      const bma = metrics.bma as ClassificationMetrics;
      expect(Object.keys(bma).sort()).toEqual(['accuracy', 'brier', 'ece', 'nll']);
      expect(bma.accuracy).toBeGreaterThan(0.9);
      expect(bma.ece).toBeGreaterThanOrEqual(0);
      expect(bma.ece).toBeLessThan(0.2);
      expect(metrics.members).toHaveLength(3);
      const again = await post.evaluate(split.test!);
      expect(again.bma).toEqual(bma);
      const pred = await post.predict(split.test!.x.subarray(0, 10), { modes: ['mean_prob', 'mode', 'mutual_info'] });
      expect(pred.mean_prob.shape).toEqual([5, 2]); // a flat array is cut into rows of the model's input size
      for (let i = 0; i < 5; i++) expect(pred.mean_prob.data[2 * i] + pred.mean_prob.data[2 * i + 1]).toBeCloseTo(1, 5);
      await expect(post.predict([[0, 0]], { task: 'regression' })).rejects.toThrow(/trained for classification/);
      await expect(post.predict([[0, 0]], { modes: ['median'] })).rejects.toThrow(/prediction mode "median" is not valid for classification/);
    } finally {
      await post.close();
    }
  });
});

describe('standardized data', () => {
  test('originalUnits: inputs taken and predictions given in the data\'s own units', async () => {
    const split = loadDataset('sine', { seed: 2, testFraction: 0.2, standardize: true });
    const raw = loadDataset('sine', { seed: 2, testFraction: 0.2 });
    const post = await trainSVGD({ model: dense([1, 16, 1]), data: split, epochs: 5, batchSize: 32, particles: 3, devices: 'cpu:0', seed: 2 });
    try {
      const norm = post.normalization!;
      expect(norm.yStd).toHaveLength(1);
      const std = await post.predict(split.test!, { modes: ['mean', 'std'] });
      const orig = await post.predict(raw.test!, { modes: ['mean', 'std'], originalUnits: true });
      for (let i = 0; i < 10; i++) {
        expect(orig.mean.data[i]).toBeCloseTo(std.mean.data[i] * norm.yStd![0] + norm.yMean![0], 4);
        expect(orig.std.data[i]).toBeCloseTo(std.std.data[i] * norm.yStd![0], 4);
      }
      const e = await post.evaluate(raw.test!, undefined, { originalUnits: true });
      const s = await post.evaluate(split.test!);
      expect((e.bma as { rmse: number }).rmse).toBeCloseTo((s.bma as { rmse: number }).rmse * norm.yStd![0], 4);
    } finally {
      await post.close();
    }
  });
});

describe('MC dropout', () => {
  test('numSamples dropout passes per particle, with their own masks, reproducible', async () => {
    const post = await trainMCDropout({ model: MODEL, data: DATA, epochs: 3, batchSize: 16, particles: 2, devices: 'cpu:0,cpu:1', seed: 3, dropout: 0.2, numSamples: 6 });
    try {
      const x = regressionData(4, 7);
      const a = await post.predict(x, { modes: ['pred', 'std'] });
      const b = await post.predict(x, { modes: ['pred', 'std'] });
      expect(a.pred.shape).toEqual([4, 12, 1]);
      expect(Array.from(b.pred.data)).toEqual(Array.from(a.pred.data));
      // Particle 0's six passes, each as its outputs on the 4 examples: six different networks.
      const passes = Array.from({ length: 6 }, (_, s) => [0, 1, 2, 3].map((i) => a.pred.data[i * 12 + s]).join());
      expect(new Set(passes).size).toBe(6);
      expect(Math.min(...Array.from(a.std.data))).toBeGreaterThan(0);
      expect((await post.predict(x, { modes: ['pred'], numSamples: 2 })).pred.shape).toEqual([4, 4, 1]);
    } finally {
      await post.close();
    }
  });
});

describe('input errors are reported before any worker starts', () => {
  test.each([
    ['model input vs data', { data: { x: [[1, 2]], y: [1] } }, /training data x has rows of shape \[2\] \(2 values\) but the model takes inputs of shape \[3\]/],
    ['batch size', { batchSize: 100 }, /batchSize 100: expected at most 64, the number of training examples/],
    ['particles', { particles: 0 }, /particles 0: expected a whole number >= 1/],
    ['NaN', { data: { x: [[1, 2, NaN]], y: [1] } }, /row 0, column 2 is NaN/],
    ['labels', { model: dense([3, 4, 2]), loss: 'cross-entropy', data: { x: [[1, 2, 3]], y: [2] } }, /label at row 0 is 2, expected a class index in \[0, 1\]/],
    ['loss', { loss: 'hinge' }, /loss "hinge": expected one of mse, cross-entropy, bce, gaussian-nll/],
  ])('%s', async (_name, bad, message) => {
    const opts = { model: MODEL, data: DATA, epochs: 1, ...bad } as Parameters<typeof trainDeepEnsemble>[0];
    await expect(trainDeepEnsemble(opts)).rejects.toThrow(PushInputError);
    await expect(trainDeepEnsemble(opts)).rejects.toThrow(message);
  });

  test('algorithm options', async () => {
    const base = { model: MODEL, data: DATA, epochs: 4 };
    await expect(trainMultiSWAG({ ...base, swagEpochs: 5 })).rejects.toThrow(/cannot have 5 SWAG epochs/);
    await expect(trainMultiSWAG({ ...base, swagEpochs: 2, collectEvery: 3 })).rejects.toThrow(/collectEvery 3 is more than the 2 SWAG epoch/);
    await expect(trainSVGD({ ...base, bandwidth: -1 })).rejects.toThrow(/bandwidth -1: expected "median" or a number > 0/);
    await expect(trainMCDropout({ ...base, dropout: 1 })).rejects.toThrow(/dropout 1: expected a rate in \(0, 1\)/);
    await expect(trainDeepEnsemble({ ...base, randomPrior: { beta: -2 } })).rejects.toThrow(/randomPrior\.beta -2/);
  });
});

describe('memory', () => {
  test('tensors in the workers stay flat across epochs and predictions', async () => {
    const counts: number[][] = [];
    const x = regressionData(20, 3);
    const post = await trainDeepEnsemble({
      model: MODEL,
      data: DATA,
      epochs: 5,
      batchSize: 16,
      particles: 4,
      devices: 'cpu:0,cpu:1',
      bootstrap: true,
      randomPrior: { beta: 1 },
      onEpoch: async ({ posterior }) => {
        await posterior.predict(x);
        counts.push(await posterior.numTensors());
      },
    });
    try {
      expect(counts).toHaveLength(5);
      for (const c of counts.slice(1)) expect(c).toEqual(counts[0]);
      expect(counts[0][0]).toBeGreaterThan(0); // the frozen priors live on
    } finally {
      await post.close();
    }
    for (const train of [trainSVGD, trainMCDropout, trainMultiSWAG]) {
      const seen: number[][] = [];
      const p = await train({ model: MODEL, data: DATA, epochs: 4, batchSize: 16, particles: 2, devices: 'cpu:0', onEpoch: async ({ posterior, epoch }) => {
        if (epoch === 4 || posterior.algorithm !== 'mswag') await posterior.predict(x, { numSamples: 3 });
        seen.push(await posterior.numTensors());
      } });
      try {
        await p.predict(x, { numSamples: 3 });
        seen.push(await p.numTensors());
        expect(new Set(seen.map((s) => s[0])).size).toBe(1);
      } finally {
        await p.close();
      }
    }
  });
});
