// The uncertainty API on a live Posterior (real workers): evaluateOOD against
// inputs far from the data, calibrate -> save -> load keeps the calibration,
// conformal intervals and their coverage, input errors, and no tensor leaks.
import * as path from 'node:path';
import { Posterior, trainDeepEnsemble } from '../../src/bayes';
import { dense } from '../../src/nn';
import { oodMetrics } from '../../src/uncertainty';
import { PushInputError } from '../../src/util/errors';
import { Rng } from '../../src/util/rng';
import { tempDir } from './helpers';

jest.setTimeout(60000);

/** y = sin(3x) + 0.1 noise for x uniform in [lo, hi]. */
function sine(n: number, seed: number, lo = -1, hi = 1): { x: Float32Array; xShape: number[]; y: Float32Array; yShape: number[] } {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
  const y = Float32Array.from(x, (v) => Math.sin(3 * v) + 0.1 * rng.normal());
  return { x, xShape: [n, 1], y, yShape: [n, 1] };
}

describe('uncertainty on a trained ensemble', () => {
  const { dir: root, cleanup } = tempDir('uq-api');
  let post: Posterior;
  beforeAll(async () => {
    post = await trainDeepEnsemble({ model: dense([1, 32, 32, 1]), data: sine(200, 1), epochs: 60, batchSize: 50, particles: 3, seed: 3 });
  });
  afterAll(async () => {
    await post?.close();
    cleanup();
  });

  test('evaluateOOD: inputs far from the data have higher epistemic std; metrics agree with the scores kept', async () => {
    const tensors = await post.numTensors();
    const xIn = sine(150, 2);
    const xOut = sine(100, 3, 3, 5);
    const r = await post.evaluateOOD(xIn, xOut, { yIn: xIn.y, keepScores: true });
    expect(r).toMatchObject({ task: 'regression', inExamples: 150, outExamples: 100 });
    expect(Object.keys(r.metrics).sort()).toEqual(['std_epistemic', 'std_total']);
    expect(r.metrics.std_epistemic!.auroc).toBeGreaterThan(0.9);
    expect(r.metrics.std_epistemic).toEqual(oodMetrics(r.scores!.in.std_epistemic!, r.scores!.out.std_epistemic!));
    // mse members: epistemic std is the members' spread, the same as predict's std mode.
    const spread = await post.predict(xIn, { modes: ['std'] });
    r.scores!.in.std_epistemic!.forEach((v, i) => expect(v).toBeCloseTo(spread.std.data[i], 5));
    expect(r.selective!.std_total!.loss).toBe('squared_error');
    expect(r.selective!.std_total!.aurc).toBeGreaterThan(0);
    expect(await post.numTensors()).toEqual(tensors);
  });

  test('calibrate -> save -> load keeps the calibration; conformal intervals cover about 1 - alpha', async () => {
    await expect(post.predictConformal(sine(5, 4), { alpha: 0.1 })).rejects.toThrow(/needs a calibrated posterior/);
    const cal = await post.calibrate(sine(400, 5), undefined, { source: 'validation draw' });
    expect(cal).toMatchObject({ version: 1, task: 'regression', source: 'validation draw', fitExamples: 200, conformalExamples: 200 });
    expect(cal.varianceScale).toBeGreaterThan(0);
    expect(cal.conformal.regression![0]).toHaveLength(200);
    const dir = path.join(root, 'ckpt');
    await post.save(dir);
    const loaded = await Posterior.load(dir);
    try {
      expect(loaded.info.calibration).toEqual(cal);
      const test = sine(600, 6);
      const report = await loaded.evaluateCalibration(test, test.y, { alpha: 0.1 });
      expect(report.varianceScale).toBe(cal.varianceScale);
      expect(report.conformal!.coverage).toBeGreaterThan(0.85);
      expect(report.conformal!.coverage).toBeLessThan(0.97);
      const conf = await loaded.predictConformal(test, { alpha: 0.1 });
      expect(conf.qhat[0]).toBe(report.conformal!.qhat[0]);
      for (let i = 0; i < 600; i++) expect(conf.upper![i] - conf.mean![i]).toBeCloseTo(conf.mean![i] - conf.lower![i], 4);
      // A higher level gives wider intervals.
      const wide = await loaded.predictConformal(test, { alpha: 0.02 });
      expect(wide.upper![0] - wide.lower![0]).toBeGreaterThan(conf.upper![0] - conf.lower![0]);
    } finally {
      await loaded.close();
    }
  });

  test('bad input: alpha outside (0, 1), OOD inputs of another shape, too little calibration data', async () => {
    await expect(post.predictConformal(sine(5, 7), { alpha: 1 })).rejects.toThrow(PushInputError);
    await expect(post.predictConformal(sine(5, 7), { alpha: 1 })).rejects.toThrow(/alpha 1: expected a number in \(0, 1\)/);
    await expect(post.evaluateOOD(sine(5, 7), { x: new Float32Array(10), xShape: [5, 2] })).rejects.toThrow(PushInputError);
    await expect(post.calibrate(sine(1, 8))).rejects.toThrow(/at least 2 held-out examples/);
  });
});
