// MC dropout (Gal & Ghahramani 2016), several particles: trained with dropout
// on; at prediction every particle makes `numSamples` passes with dropout on.
// Pass s of a particle is ONE thinned network: its mask over each dropout
// layer's units (seeded by the particle's seed and s) is shared by every input
// row, so the pass is a smooth function of x, the same whatever the batch size,
// the row's position or the other rows, and the S passes are S draws from the
// dropout posterior over networks (their per-x spread is unchanged). Training
// keeps a mask element per row and unit. A model without dropout gets a dropout
// layer after each hidden activation, so any MLP works. tfjs-layers models draw
// their own masks (seeds are ignored there).
import { PushInputError } from '../../../util/errors';
import { compileModel } from '../../../nn';
import type { LayerSpec, ModelSpec, SequentialSpec } from '../../../nn/spec';
import { ACTIVATIONS } from '../../../nn/spec';
import { McDropoutOptions, resolveMcDropout } from '../../options';
import type { Posterior } from '../../posterior';
import { runTraining, stackedEpoch } from '../../training';

/** The model with dropout at `rate` after every activation that has layers after it; unchanged if it has dropout. */
export function withDropout(spec: ModelSpec, rate: number): ModelSpec {
  const net = compileModel(spec);
  const has = net.hasDropout;
  net.dispose();
  if (has) return spec;
  if (spec.format !== 'push-ens/sequential') {
    throw new PushInputError('mcdropout needs dropout layers: this tfjs-layers model has none (add Dropout layers, or use a push-ens sequential spec)');
  }
  const layers: LayerSpec[] = [];
  let added = 0;
  spec.layers.forEach((layer, i) => {
    layers.push(layer);
    if ((ACTIVATIONS as readonly string[]).includes(layer.type) && i < spec.layers.length - 1) {
      layers.push({ type: 'dropout', rate });
      added++;
    }
  });
  if (added === 0) throw new PushInputError('mcdropout needs a model with hidden activations (dropout goes after each) or dropout layers: this model has neither');
  return { ...(spec as SequentialSpec), layers };
}

/** Trains `particles` MC-dropout networks. */
export function trainMCDropout(options: McDropoutOptions): Promise<Posterior> {
  return runTraining(options, (_common, model) => {
    const o = resolveMcDropout(options);
    return {
      algorithm: 'mcdropout',
      options: o,
      model: withDropout(model, o.dropout),
      resumeKeys: ['dropout'],
      configure: () => ({}),
      runEpoch: (ctx, epoch) => stackedEpoch(ctx, epoch),
    };
  });
}
