// MultiSWAG (Maddox et al. 2019; Wilson & Izmailov 2020): every particle is
// pretrained, then keeps collecting its OWN SWAG moments (running mean, second
// moment, last-K deviations) in its device worker once every `collectEvery`
// epochs; prediction samples `numSamples` weight vectors per particle.
import { PushInputError } from '../../../util/errors';
import type { ModelSpec } from '../../../nn/spec';
import { MultiSwagOptions, ResolvedSwag, resolveSwag } from '../../options';
import type { Posterior } from '../../posterior';
import { AlgorithmDriver, runTraining, stackedEpoch } from '../../training';

function swagDriver(o: ResolvedSwag, model: ModelSpec): AlgorithmDriver {
  return {
    algorithm: 'mswag',
    options: o,
    model,
    resumeKeys: ['pretrainEpochs', 'swagEpochs', 'swagLr', 'rank', 'collectEvery'],
    configure: () => ({ swag: { rank: o.rank } }),
    async runEpoch(ctx, epoch) {
      const swagEpoch = epoch - o.pretrainEpochs; // 0-based within the SWAG phase
      if (swagEpoch === 0 && o.swagLr !== null) await ctx.cluster.eachDevice('bayesSetLr', (pids) => ({ pids, lr: o.swagLr }));
      const collectSwag = swagEpoch >= 0 && (swagEpoch + 1) % o.collectEvery === 0;
      return stackedEpoch(ctx, epoch, { collectSwag });
    },
  };
}

/** Trains MultiSWAG: `epochs` in all, of which the last `swagEpochs` collect moments. */
export function trainMultiSWAG(options: MultiSwagOptions): Promise<Posterior> {
  return runTraining(options, (common, model) => {
    const o = resolveSwag(options, common.epochs);
    if (o.collectEvery > o.swagEpochs) {
      throw new PushInputError(`collectEvery ${o.collectEvery} is more than the ${o.swagEpochs} SWAG epoch(s): expected collectEvery <= swagEpochs so that moments are collected`);
    }
    return swagDriver(o, model);
  });
}
