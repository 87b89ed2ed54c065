// MultiSWAG (Maddox et al. 2019; Wilson & Izmailov 2020): every particle is
// pretrained, then keeps collecting its OWN SWAG moments (running mean, second
// moment, last-K deviations) in its device worker once every `collectEvery`
// epochs; prediction samples `numSamples` weight vectors per particle. With
// swagLr the SWAG epochs run at that constant rate, whatever the scheduler (as
// in Maddox et al.); without it the optimizer's scheduled rate goes on.
import * as path from 'node:path';
import { PushInputError, describeValue } from '../../../util/errors';
import { deriveSeed } from '../../../util/rng';
import { bytesOf, float32Of, float64Of } from '../../checkpoint-dir';
import { sampleSeed } from '../../seeds';
import { NUM_SAMPLES, OptionSpec, readOption } from '../schema';
import { stackedEpoch } from '../shared/stacked-epoch';
import type { Algorithm } from '../types';
import type { SwagState } from './swag';

export interface MultiSWAGFields {
  /** Epochs that collect SWAG moments: the last swagEpochs of `epochs`. Default max(1, round(epochs / 4)). */
  swagEpochs?: number;
  /** Alternative to swagEpochs: epochs before collection starts. */
  pretrainEpochs?: number;
  /** Constant learning rate of the SWAG epochs (not scaled by the scheduler). Default: the optimizer's, scheduled. */
  swagLr?: number;
  /** K, the deviations kept for the low-rank term. Default 20. */
  rank?: number;
  /** Collect every this many SWAG epochs (default 1: once per epoch). */
  collectEvery?: number;
  /** Covariance scale at sampling time. Default 0.5. */
  scale?: number;
  /** Floor of the diagonal variance. Default 1e-30. */
  varClamp?: number;
  /** Weight samples per particle at prediction. Default 20. */
  numSamples?: number;
}

export interface ResolvedSwag {
  pretrainEpochs: number;
  swagEpochs: number;
  swagLr: number | null;
  rank: number;
  collectEvery: number;
  scale: number;
  varClamp: number;
  numSamples: number;
}

const SWAG_EPOCHS: OptionSpec = { key: 'swagEpochs', flag: '--swag-epochs', arg: '<n>', help: 'the last N epochs collect SWAG moments', kind: 'int', min: 1, defaultText: 'a quarter of --epochs, at least 1' };
const PRETRAIN_EPOCHS: OptionSpec = { key: 'pretrainEpochs', flag: '--pretrain-epochs', arg: '<n>', help: 'epochs before SWAG collection starts (alternative to --swag-epochs)', kind: 'int', min: 0 };
const SWAG_LR: OptionSpec = { key: 'swagLr', flag: '--swag-lr', arg: '<rate>', help: 'constant learning rate of the SWAG epochs, not scaled by --scheduler', kind: 'number', min: 0, minExclusive: true, defaultText: '--lr, scheduled' };
const RANK: OptionSpec = { key: 'rank', flag: '--rank', arg: '<k>', help: 'deviations kept for the low-rank covariance (0: diagonal SWAG)', kind: 'int', min: 0, max: 10000, defaultText: '20' };
const COLLECT_EVERY: OptionSpec = { key: 'collectEvery', flag: '--collect-every', arg: '<n>', help: 'collect moments every N SWAG epochs', kind: 'int', min: 1, defaultText: '1' };
const SCALE: OptionSpec = { key: 'scale', flag: '--scale', arg: '<s>', help: 'covariance scale when sampling', kind: 'number', min: 0, defaultText: '0.5' };
const VAR_CLAMP: OptionSpec = { key: 'varClamp', flag: '--var-clamp', arg: '<v>', help: 'floor of the diagonal variance when sampling', kind: 'number', min: 0, defaultText: '1e-30' };
const SAMPLES = NUM_SAMPLES('weight samples', 20);

export const mswag: Algorithm<ResolvedSwag> = {
  name: 'mswag',
  title: 'MultiSWAG',
  summary: 'SWAG Gaussians around several trajectories (Maddox et al. 2019)',
  options: [SWAG_EPOCHS, PRETRAIN_EPOCHS, SWAG_LR, RANK, COLLECT_EVERY, SCALE, VAR_CLAMP, SAMPLES],
  resumeKeys: ['pretrainEpochs', 'swagEpochs', 'swagLr', 'rank', 'collectEvery'],
  fixedEpochs: true,
  deviceModule: path.join(__dirname, 'device.js'),
  resolve(raw, { epochs }) {
    let swagEpochs: number;
    if (raw.swagEpochs !== undefined) swagEpochs = readOption(raw, SWAG_EPOCHS, 1);
    else if (raw.pretrainEpochs !== undefined) swagEpochs = epochs - readOption(raw, PRETRAIN_EPOCHS, 0);
    else swagEpochs = Math.max(1, Math.round(epochs / 4));
    const pretrainEpochs = epochs - swagEpochs;
    if (swagEpochs < 1 || pretrainEpochs < 0) {
      throw new PushInputError(`MultiSWAG with ${epochs} epochs cannot have ${swagEpochs} SWAG epochs: expected 1 <= swagEpochs <= epochs (epochs counts pretraining and SWAG epochs)`);
    }
    if (raw.pretrainEpochs !== undefined && raw.pretrainEpochs !== pretrainEpochs) {
      throw new PushInputError(`pretrainEpochs ${raw.pretrainEpochs} + swagEpochs ${swagEpochs} != epochs ${epochs}: expected them to add up`);
    }
    const o: ResolvedSwag = {
      pretrainEpochs,
      swagEpochs,
      swagLr: readOption<number | null>(raw, SWAG_LR, null),
      rank: readOption(raw, RANK, 20),
      collectEvery: readOption(raw, COLLECT_EVERY, 1),
      scale: readOption(raw, SCALE, 0.5),
      varClamp: readOption(raw, VAR_CLAMP, 1e-30),
      numSamples: readOption(raw, SAMPLES, 20),
    };
    if (o.collectEvery > o.swagEpochs) {
      throw new PushInputError(`collectEvery ${o.collectEvery} is more than the ${o.swagEpochs} SWAG epoch(s): expected collectEvery <= swagEpochs so that moments are collected`);
    }
    return o;
  },
  driver(o, model) {
    return {
      model,
      setup: () => ({ rank: o.rank }),
      async runEpoch(ctx, epoch) {
        const swagEpoch = epoch - o.pretrainEpochs; // 0-based within the SWAG phase
        // Every SWAG epoch (a resumed or recovered run included): the constant SWAG rate.
        if (swagEpoch >= 0 && o.swagLr !== null) await ctx.cluster.call('bayesSetLr', (pids) => ({ pids, lr: o.swagLr!, constant: true }));
        const collectSwag = swagEpoch >= 0 && (swagEpoch + 1) % o.collectEvery === 0;
        return stackedEpoch(ctx, epoch, 'mswagEpoch', { collectSwag });
      },
    };
  },
  predictionPlan(o, { particleSeeds }, numSamples) {
    const S = numSamples ?? o.numSamples;
    return { perParticle: S, args: { scale: o.scale, varClamp: o.varClamp }, perPid: particleSeeds.map(sampleSeed), memberName: 'samples' };
  },
  // SWAG moments, sampled in the page with the devices' sample seeds (the particles' own weights are not needed).
  exportPlan(o, particles, { particleSeeds }) {
    const arrays = particles.map((p, k) => {
      const w = p.state as SwagState | undefined;
      if (!w || w.count === 0) throw new PushInputError(`particle ${k} of this MultiSWAG posterior has no SWAG moments: train it further (its SWAG epochs collect them)`);
      return { swagMean: w.mean, swagSqMean: w.sqMean, swagDeviations: w.deviations };
    });
    return { sampling: 'swag', arrays, predictive: { numSamples: o.numSamples, scale: o.scale, varClamp: o.varClamp, sampleSeeds: particleSeeds.map(sampleSeed) } };
  },
  cliOptions(given, { epochs }) {
    const swag = given.swagEpochs as number | undefined;
    const pre = given.pretrainEpochs as number | undefined;
    if (swag !== undefined && swag > epochs) throw new PushInputError(`--swag-epochs ${swag}: expected at most --epochs (${epochs}), which counts all epochs`);
    if (pre !== undefined && pre >= epochs) throw new PushInputError(`--pretrain-epochs ${pre}: expected fewer than --epochs (${epochs}), leaving at least one SWAG epoch`);
    if (swag !== undefined && pre !== undefined && swag + pre !== epochs) {
      throw new PushInputError(`--pretrain-epochs ${pre} + --swag-epochs ${swag} = ${pre + swag}: expected them to add up to --epochs (${epochs})`);
    }
    // The checkpoint keeps the SWAG epochs explicitly, as the CLI stores every option.
    const { pretrainEpochs: _pre, ...rest } = given;
    if (pre !== undefined && swag === undefined) return { ...rest, swagEpochs: epochs - pre };
    return { ...rest, swagEpochs: swag ?? (rest.swagEpochs as number | undefined) ?? Math.max(1, Math.round(epochs / 4)) };
  },
  phase: (o, epoch, epochs) => (epoch > epochs - o.swagEpochs ? 'swag' : 'pretrain'),
  async sampleParameters(cluster, o, particleSeeds, n, opts) {
    const S = opts.numSamples ?? o.numSamples;
    if (!Number.isInteger(S) || S < 1) throw new PushInputError(`numSamples ${describeValue(S)}: expected a whole number >= 1`);
    const out: Float32Array[][] = particleSeeds.map(() => []);
    const parts = await cluster.eachDevice<Float32Array>('mswagSamples', (pids) => ({
      pids,
      numSamples: S,
      sampleSeeds: pids.map((pid) => deriveSeed(sampleSeed(particleSeeds[pid]), opts.seed ?? 0, 1)),
      scale: o.scale,
      varClamp: o.varClamp,
    }));
    cluster.deviceGroups().forEach(({ pids }, g) => {
      pids.forEach((pid, j) => {
        for (let s = 0; s < S; s++) out[pid].push(parts[g].slice((j * S + s) * n, (j * S + s + 1) * n));
      });
    });
    return out;
  },
  // SWAG file layout: mean (float64 x n), sqMean (float64 x n), deviations (float32 x numDeviations x n).
  codec: {
    encode(state) {
      const w = state as SwagState;
      const data = new Uint8Array(w.mean.byteLength + w.sqMean.byteLength + w.deviations.byteLength);
      data.set(bytesOf(w.mean), 0);
      data.set(bytesOf(w.sqMean), w.mean.byteLength);
      data.set(bytesOf(w.deviations), 2 * w.mean.byteLength);
      return { fields: { swag: { count: w.count, rank: w.rank, numDeviations: w.numDeviations } }, files: { swag: data } };
    },
    decode(record, file, n, where) {
      const data = file('swag');
      const r = record.swag as { count: number; rank: number; numDeviations: number } | undefined;
      if (!data || !r) return undefined;
      const { count, rank, numDeviations } = r;
      const expected = 16 * n + 4 * numDeviations * n;
      if (data.byteLength !== expected) throw new PushInputError(`${where}: its SWAG file holds ${data.byteLength} bytes, expected ${expected}`);
      const state: SwagState = {
        n,
        rank,
        count,
        numDeviations,
        mean: float64Of(data.subarray(0, 8 * n), `${where}: SWAG mean`, n),
        sqMean: float64Of(data.subarray(8 * n, 16 * n), `${where}: SWAG sqMean`, n),
        deviations: float32Of(data.subarray(16 * n), `${where}: SWAG deviations`, numDeviations * n),
      };
      return state;
    },
  },
};
