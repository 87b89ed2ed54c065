// Deep ensembles (Lakshminarayanan et al. 2017): independently initialised
// particles, each with its own seed, trained with stacked group steps; options
// for bootstrap resamples and random-prior networks (Osband et al. 2018).
import type { ModelSpec } from '../../../nn/spec';
import { EnsembleOptions, ResolvedCommon, ResolvedEnsemble, resolveEnsemble } from '../../options';
import type { Posterior } from '../../posterior';
import { bootstrapSeed, priorSeed } from '../../seeds';
import { AlgorithmDriver, TRAIN_DATA_KEY, runTraining, stackedEpoch } from '../../training';

function ensembleDriver(o: ResolvedEnsemble, model: ModelSpec): AlgorithmDriver {
  return {
    algorithm: 'ensemble',
    options: o,
    model,
    resumeKeys: ['bootstrap', 'priorBeta'],
    configure: (_pid, seed) => ({
      ...(o.bootstrap ? { bootstrap: { seed: bootstrapSeed(seed), key: TRAIN_DATA_KEY } } : {}),
      ...(o.priorBeta !== null ? { prior: { beta: o.priorBeta, seed: priorSeed(seed) } } : {}),
    }),
    runEpoch: (ctx, epoch) => stackedEpoch(ctx, epoch, { bootstrap: o.bootstrap }),
  };
}

/** Trains a deep ensemble: `particles` networks from their own seeds. */
export function trainDeepEnsemble(options: EnsembleOptions): Promise<Posterior> {
  return runTraining(options, (_common: ResolvedCommon, model) => ensembleDriver(resolveEnsemble(options), model));
}
