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
import * as path from 'node:path';
import { PushInputError } from '../../../util/errors';
import type { LayerSpec, ModelSpec, SequentialSpec } from '../../../nn/spec';
import { ACTIVATIONS } from '../../../nn/spec';
import { modelHasDropout } from '../../../nn/model-io';
import { sampleSeed } from '../../seeds';
import { NUM_SAMPLES, OptionSpec, readOption } from '../schema';
import { stackedEpoch } from '../shared/stacked-epoch';
import type { Algorithm } from '../types';

export interface McDropoutFields {
  /** Rate of the dropout layers added to a model that has none (after each hidden activation). Default 0.1. */
  dropout?: number;
  /** Dropout passes per particle at prediction. Default 20. */
  numSamples?: number;
}

export interface ResolvedMcDropout {
  dropout: number;
  numSamples: number;
}

const DROPOUT: OptionSpec = { key: 'dropout', flag: '--dropout', arg: '<rate>', help: 'dropout rate of the layers added to a model without any', kind: 'number', min: 0, max: 1, minExclusive: true, maxExclusive: true, expected: 'a rate in (0, 1)', defaultText: '0.1' };
const SAMPLES = NUM_SAMPLES('dropout passes', 20);

/** The model with dropout at `rate` after every activation that has layers after it; unchanged if it has dropout. */
export function withDropout(spec: ModelSpec, rate: number): ModelSpec {
  if (modelHasDropout(spec)) return spec;
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

export const mcdropout: Algorithm<ResolvedMcDropout> = {
  name: 'mcdropout',
  title: 'MC dropout',
  summary: 'networks trained with dropout, predicting with dropout on (Gal & Ghahramani 2016)',
  options: [DROPOUT, SAMPLES],
  resumeKeys: ['dropout'],
  deviceModule: path.join(__dirname, 'device.js'),
  resolve: (raw) => ({ dropout: readOption(raw, DROPOUT, 0.1), numSamples: readOption(raw, SAMPLES, 20) }),
  driver: (o, model) => ({ model: withDropout(model, o.dropout), setup: () => undefined, runEpoch: (ctx, epoch) => stackedEpoch(ctx, epoch, 'mcdropoutEpoch') }),
  predictionPlan: (o, { particleSeeds }, numSamples) => ({ perParticle: numSamples ?? o.numSamples, perPid: particleSeeds.map(sampleSeed), memberName: 'passes' }),
  // Dropout passes over each particle's weights, with the devices' sample seeds.
  exportPlan: (o, particles, { particleSeeds }) => ({
    sampling: 'dropout',
    arrays: particles.map((p) => ({ params: p.params })),
    predictive: { numSamples: o.numSamples, sampleSeeds: particleSeeds.map(sampleSeed) },
  }),
};
