// Deep ensembles (Lakshminarayanan et al. 2017): independently initialised
// particles, each with its own seed, trained with stacked group steps; options
// for bootstrap resamples and random-prior networks (Osband et al. 2018).
import * as path from 'node:path';
import { PushInputError, describeValue } from '../../../util/errors';
import { bytesOf, float32Of } from '../../checkpoint-dir';
import { bootstrapSeed, priorSeed } from '../../seeds';
import { OptionSpec, readOption } from '../schema';
import { TRAIN_DATA_KEY, stackedEpoch } from '../shared/stacked-epoch';
import type { Algorithm } from '../types';

/** The deep ensemble's own options (next to the common ones). */
export interface EnsembleFields {
  /** Each particle trains on its own resample (with replacement) of the training set. */
  bootstrap?: boolean;
  /** Random-prior networks (Osband et al. 2018): output = trainable(x) + beta * prior(x). */
  randomPrior?: { beta: number };
}

export interface ResolvedEnsemble {
  bootstrap: boolean;
  priorBeta: number | null;
}

/** What a device needs to set a particle up (see device.ts). */
export interface EnsembleSetup {
  /** The resample's seed, drawn over the rows of data `key`. */
  bootstrap?: { seed: number; key: string };
  /** The frozen prior network: its scale and seed (saved parameters come as the particle's state). */
  prior?: { beta: number; seed: number };
}

const BOOTSTRAP: OptionSpec = { key: 'bootstrap', flag: '--bootstrap', help: 'each particle trains on its own resample of the training set', kind: 'boolean' };
const PRIOR_BETA: OptionSpec = {
  key: 'randomPrior.beta',
  flag: '--prior-beta',
  arg: '<beta>',
  help: 'add a frozen random prior network scaled by beta (Osband et al. 2018)',
  kind: 'number',
  min: 0,
  toApi: (beta) => ({ randomPrior: { beta } }),
};

export const ensemble: Algorithm<ResolvedEnsemble> = {
  name: 'ensemble',
  title: 'deep ensemble',
  summary: 'independently initialised networks (optionally bootstrapped, with random priors)',
  options: [BOOTSTRAP, PRIOR_BETA],
  resumeKeys: ['bootstrap', 'priorBeta'],
  deviceModule: path.join(__dirname, 'device.js'),
  resolve(raw) {
    const bootstrap = readOption(raw, BOOTSTRAP, false);
    let priorBeta: number | null = null;
    if (raw.randomPrior !== undefined) {
      const rp = raw.randomPrior as { beta?: unknown };
      if (!rp || typeof rp !== 'object') throw new PushInputError(`randomPrior ${describeValue(rp)}: expected {beta}`);
      priorBeta = readOption({ 'randomPrior.beta': rp.beta ?? NaN }, PRIOR_BETA, 0);
    }
    return { bootstrap, priorBeta };
  },
  driver(o, model) {
    return {
      model,
      setup: (_pid, seed): EnsembleSetup => ({
        ...(o.bootstrap ? { bootstrap: { seed: bootstrapSeed(seed), key: TRAIN_DATA_KEY } } : {}),
        ...(o.priorBeta !== null ? { prior: { beta: o.priorBeta, seed: priorSeed(seed) } } : {}),
      }),
      runEpoch: (ctx, epoch) => stackedEpoch(ctx, epoch, 'ensembleEpoch', { bootstrap: o.bootstrap }),
    };
  },
  predictionPlan: () => ({ perParticle: 1 }),
  // Fixed members: each particle's weights, plus beta x its frozen prior network's output.
  exportPlan(o, particles) {
    if (o.priorBeta === null) return { sampling: 'members', arrays: particles.map((p) => ({ params: p.params })), predictive: {} };
    const arrays = particles.map((p, k) => {
      if (!(p.state instanceof Float32Array)) throw new PushInputError(`particle ${k} of this random-prior ensemble has no prior weights: the checkpoint is corrupt`);
      return { params: p.params, prior: p.state };
    });
    return { sampling: 'members', arrays, predictive: { priorBeta: o.priorBeta } };
  },
  // The random prior's frozen weights (float32 x n), in particle-NNN.prior.f32.
  codec: {
    encode: (state): { files: Record<string, Uint8Array> } => ({ files: state ? { prior: bytesOf(state as Float32Array) } : {} }),
    decode: (_record, file, n, where) => {
      const data = file('prior');
      return data && float32Of(data, `${where}: prior`, n);
    },
  },
};
