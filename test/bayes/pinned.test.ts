// Pins each algorithm's trained parameters (and SWAG moments, MC dropout
// predictions) for a fixed seed: a refactor must leave them bit-identical.
// The digests were taken before the algorithms moved into src/bayes/algorithms;
// change one only when a deliberate behaviour change is documented.
// Changed once: the optimizers moved to the wasm SIMD kernels (src/nn/wasm),
// which compute in float32 as PyTorch does, where the JS loop computes in
// double and rounds at storage. The parameters moved by at most 1 float32 ulp
// (max |diff| 6e-8, a third of the values); the JS fallback still gives the
// old digests (last test).
import { createHash } from 'node:crypto';
import { Posterior, trainDeepEnsemble, trainMCDropout, trainMultiSWAG, trainSVGD } from '../../src/bayes';
import { dense } from '../../src/nn';
import { regressionData } from './helpers';

const DATA = regressionData(48, 5);
const BASE = { model: dense([3, 8, 1]), data: DATA, epochs: 3, batchSize: 16, particles: 3, seed: 11, devices: 'cpu:0,cpu:1' };

function digest(arrays: ArrayLike<number>[]): string {
  const h = createHash('sha256');
  for (const a of arrays) h.update(Buffer.from(Float32Array.from(a).buffer));
  return h.digest('hex').slice(0, 16);
}

async function paramsDigest(post: Posterior): Promise<string> {
  try {
    return digest(await post.particleParameters());
  } finally {
    await post.close();
  }
}

const grid = { x: Float32Array.from({ length: 12 }, (_, i) => i / 4 - 1.5), xShape: [4, 3] };

test('deep ensemble with bootstrap and random priors: parameters pinned', async () => {
  expect(await paramsDigest(await trainDeepEnsemble({ ...BASE, bootstrap: true, randomPrior: { beta: 0.5 } }))).toBe('0a009a3b91a4af61');
});

test('MultiSWAG under a scheduler: parameters and moments pinned', async () => {
  const post = await trainMultiSWAG({ ...BASE, epochs: 4, swagEpochs: 2, rank: 2, scheduler: { type: 'cosine', tMax: 4 } });
  try {
    const moments = await post.swagMoments();
    expect(digest(moments.flatMap((m) => [m.mean, m.sqMean, m.deviations]))).toBe('a6f2f9397736063b');
    expect(digest(await post.particleParameters())).toBe('dfad93726c45bb3a');
  } finally {
    await post.close();
  }
});

test('SVGD with one output: parameters pinned', async () => {
  expect(await paramsDigest(await trainSVGD({ ...BASE, optimizer: { type: 'sgd', lr: 0.001 } }))).toBe('0645dd728723167b');
});

test('the JS optimizer loop (PUSH_ENS_WASM_KERNELS=0, read by the workers) still gives the digest from before the kernels', async () => {
  const saved = process.env.PUSH_ENS_WASM_KERNELS;
  process.env.PUSH_ENS_WASM_KERNELS = '0';
  try {
    expect(await paramsDigest(await trainDeepEnsemble({ ...BASE, bootstrap: true, randomPrior: { beta: 0.5 } }))).toBe('9763583f7e5dda1f');
  } finally {
    if (saved === undefined) delete process.env.PUSH_ENS_WASM_KERNELS;
    else process.env.PUSH_ENS_WASM_KERNELS = saved;
  }
});

test('MC dropout: parameters and predictions pinned', async () => {
  const post = await trainMCDropout({ ...BASE, dropout: 0.2, numSamples: 3 });
  try {
    expect(digest(await post.particleParameters())).toBe('e0bd328f9a529c97');
    const pred = await post.predict(grid, { modes: ['pred'] });
    expect(digest([pred.pred.data])).toBe('bb1065e982fe292d');
  } finally {
    await post.close();
  }
});
