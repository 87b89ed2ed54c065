// Variances in the data's original units are scaled, never floored at 1e-6: a
// target with std 1e-4 has variances near 1e-8, and its NLL must say so.
import { PredictiveReducer } from '../../src/bayes/predictive';
import { originalUnitsFloor, softplusInverse, stackToOriginalUnits, withNoiseVariance } from '../../src/bayes/stacks';
import type { Normalization } from '../../src/data/dataset';
import { trainDeepEnsemble } from '../../src/bayes';
import { loadTrainingData } from '../../src/cli/data';
import { mlp } from '../../src/nn';

const norm = { yMean: [0.01], yStd: [1e-4] } as unknown as Normalization;

test('a gaussian member with variance 1 in model units has variance 1e-8 in original units (std 1e-4), and the NLL of 1e-8', () => {
  // Two members, model units: means 0.5 and -0.5, variance softplus(raw) + 1e-6 = 1.
  const raw = softplusInverse(1 - 1e-6);
  const stack = Float32Array.from([0.5, raw, -0.5, raw]);
  const original = stackToOriginalUnits(stack, 1, 2, 2, true, norm);
  const reducer = new PredictiveReducer('regression', ['mean', 'variance', 'epistemic_var', 'aleatoric_var'], { gaussian: true, varianceFloor: originalUnitsFloor(norm, 1) });
  const y = Float32Array.from([0.01]);
  reducer.push(original, { N: 1, S: 2, out: 2 }, y);
  const r = reducer.result();
  expect(r.mean.data[0]).toBeCloseTo(0.01, 8);
  expect(r.aleatoric_var.data[0] / 1e-8).toBeCloseTo(1, 4);
  expect(r.epistemic_var.data[0] / 0.25e-8).toBeCloseTo(1, 3);
  const variance = 1.25e-8;
  expect(r.variance.data[0] / variance).toBeCloseTo(1, 3);
  // Gaussian NLL of y = mean under the moment-matched N(mean, 1.25e-8): 0.5 log(2 pi v).
  const nll = (reducer.metrics() as { nll: number }).nll;
  expect(nll).toBeCloseTo(0.5 * Math.log(2 * Math.PI * variance), 3);
  expect(nll).toBeLessThan(-8); // floored at 1e-6 it would be -5.99
});

test('an mse model\'s noise variance enters exactly, however small', () => {
  const stack = Float32Array.from([0.25, 0.25]); // two members, one target, model units
  const g = withNoiseVariance(stack, 1, 2, 1, [1e-9]);
  const reducer = new PredictiveReducer('regression', ['variance'], { gaussian: true, varianceFloor: [0] });
  reducer.push(g, { N: 1, S: 2, out: 2 }, Float32Array.from([0.25]));
  expect(reducer.result().variance.data[0] / 1e-9).toBeCloseTo(1, 4);
});

describe('posterior.info.metrics after training on standardized data', () => {
  test('are in the original units, as evaluate({originalUnits}) on the original data gives them', async () => {
    const opts = { spec: 'toy', seed: 3, testFraction: 0.25 };
    const standardized = loadTrainingData({ ...opts, standardize: true });
    const original = loadTrainingData({ ...opts, standardize: false });
    expect(standardized.normalization?.yStd?.[0]).not.toBeCloseTo(1, 1); // the units differ
    const post = await trainDeepEnsemble({ model: mlp([8]), data: standardized, epochs: 3, particles: 2, batchSize: 32, seed: 1 });
    try {
      const again = await post.evaluate(original.test!, undefined, { originalUnits: true });
      const m = post.info.metrics!.bma as { rmse: number; nll: number };
      expect(m.rmse).toBeCloseTo((again.bma as { rmse: number }).rmse, 4);
      expect(m.nll).toBeCloseTo((again.bma as { nll: number }).nll, 3);
    } finally {
      await post.close();
    }
  });
});
