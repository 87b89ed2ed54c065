// nn.mlp(hidden) in the API means what mlp:H1,H2 means on the command line:
// hidden widths, with the input and output sizes taken from the data.
import { trainDeepEnsemble } from '../../src/bayes';
import { dense, mlp } from '../../src/nn';
import { Rng } from '../../src/util/rng';

/** Three features, two classes: the class is the sign of x0 + x1 - x2. */
function threeFeatureClasses(n: number): { x: Float32Array; xShape: number[]; y: Float32Array; yShape: number[]; task: 'classification' } {
  const rng = new Rng(3);
  const x = rng.fillNormal(new Float32Array(n * 3));
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = x[3 * i] + x[3 * i + 1] - x[3 * i + 2] > 0 ? 1 : 0;
  return { x, xShape: [n, 3], y, yShape: [n], task: 'classification' };
}

test('a model from nn.mlp([8, 8]) trains on data with 3 inputs and 2 classes', async () => {
  const data = threeFeatureClasses(64);
  const post = await trainDeepEnsemble({ model: mlp([8, 8]), data, epochs: 2, batchSize: 16, particles: 2, devices: 'cpu:0', seed: 1 });
  try {
    expect(post.info.model).toEqual(dense([3, 8, 8, 2]));
    expect(post.info.inputShape).toEqual([3]);
    expect(post.info.outputSize).toBe(2);
    expect(post.info.numParams).toBe(3 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2);
    expect(post.info.trainLosses!.every(Number.isFinite)).toBe(true);
  } finally {
    await post.close();
  }
}, 60_000);
