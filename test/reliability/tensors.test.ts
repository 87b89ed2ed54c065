// No tensor leaks: over 50 short epochs the tensors alive in every device
// worker stay at the count they settle at after the first epoch, for the
// stacked ensemble path (random priors, bootstrap), SVGD's rounds, and MC
// dropout with a particle cache that swaps on every step.
import { trainDeepEnsemble, trainMCDropout, trainSVGD } from '../../src/bayes';
import type { CommonTrainOptions, Posterior } from '../../src/bayes';
import { regressionData } from '../bayes/helpers';

jest.setTimeout(60000);

const EPOCHS = 50;
const base: CommonTrainOptions = {
  model: { format: 'push-ens/sequential', inputShape: [3], layers: [{ type: 'dense', units: 16 }, { type: 'relu' }, { type: 'dense', units: 1 }] },
  data: regressionData(48, 6),
  epochs: EPOCHS,
  particles: 4,
  batchSize: 16,
  devices: 'cpu:0,cpu:1',
};

type Train = (o: CommonTrainOptions & Record<string, unknown>) => Promise<Posterior>;

const RUNS: [string, Train, Record<string, unknown>][] = [
  ['ensemble with random priors and bootstrap', trainDeepEnsemble as Train, { randomPrior: { beta: 1 }, bootstrap: true }],
  ['svgd', trainSVGD as Train, {}],
  ['mcdropout, cacheSize 1', trainMCDropout as Train, { cacheSize: 1 }],
];

test.each(RUNS)('%s: numTensors in every worker stays flat over 50 epochs', async (_name, train, extra) => {
  const counts: number[][] = [];
  const post = await train({ ...base, ...extra, onEpoch: async ({ posterior }) => void counts.push(await posterior.numTensors()) });
  await post.close();
  expect(counts).toHaveLength(EPOCHS);
  const settled = counts[0];
  expect(settled).toHaveLength(2); // one count per device
  const drifted = counts.findIndex((c) => c.some((n, d) => n !== settled[d]));
  expect(drifted).toBe(-1);
});
