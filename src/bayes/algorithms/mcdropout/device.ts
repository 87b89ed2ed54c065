// MC dropout on a device: plain stacked epochs (training masks per row and
// unit) and prediction passes with one mask over units per pass.
import { deriveSeed } from '../../../util/rng';
import type { Particle } from '../../../runtime/particle';
import { registerDeviceAlgorithm, runStackedEpoch } from '../../device/engine';
import type { EpochArgs, EpochResult } from '../../device/messages';

registerDeviceAlgorithm('mcdropout', {
  predict(p, pid, x, _args, seed, S) {
    // Pass s is one thinned network (its own mask over units, the same for every input):
    // a smooth function of x, whatever the batch, so curves over a grid are curves.
    const { group, row } = p.store.placement(pid);
    const seeds = Array.from({ length: S }, (_, s) => deriveSeed(seed as number, s));
    return group.predict(new Array<number>(S).fill(row), x, { training: true, dropoutSeeds: seeds, sharedDropoutMask: true });
  },
});

export async function mcdropoutEpoch(p: Particle, a: EpochArgs): Promise<EpochResult> {
  return runStackedEpoch(p, a);
}
