// Last-layer Laplace (Daxberger et al. 2021, "Laplace Redux"), several particles:
// each particle trains a MAP network as the deep ensemble does (the shared
// stacked epoch); after the last epoch its device fits a Gaussian on the last
// dense layer's weights and bias (GGN Hessian, full or diagonal; the prior
// precision by marginal likelihood unless given), on features computed where
// the particle lives. Prediction: MC samples of the last layer (members), or
// the probit approximation for classification. Several particles make a
// mixture of Laplaces. The maths is src/uncertainty/laplace-math.ts.
import * as path from 'node:path';
import { PushInputError, describeValue } from '../../../util/errors';
import { bytesOf, float64Of } from '../../checkpoint-dir';
import { sampleSeed } from '../../seeds';
import type { HessianStructure, LaplaceLikelihood, LastLayerLaplace } from '../../../uncertainty/laplace-math';
import { NUM_SAMPLES, OptionSpec, readOption } from '../schema';
import { TRAIN_DATA_KEY, stackedEpoch } from '../shared/stacked-epoch';
import type { Algorithm } from '../types';
import { lastLayerOf } from './last-layer';

export interface LaplaceFields {
  /** GGN structure of the last layer: 'full' (default) or 'diag'. */
  hessian?: HessianStructure;
  /** Prior precision δ of N(0, δ⁻¹ I) on the last layer. Default: maximise the log marginal likelihood. */
  priorPrecision?: number;
  /** 'mc' (default): numSamples sampled last layers per particle; 'probit': one probit member per particle (classification). */
  predictive?: 'mc' | 'probit';
  /** Last-layer samples per particle at prediction (mc). Default 20. */
  numSamples?: number;
}

export interface ResolvedLaplace {
  hessian: HessianStructure;
  priorPrecision: number | null;
  predictive: 'mc' | 'probit';
  numSamples: number;
}

/** What a device needs to fit a particle (see device.ts). */
export interface LaplaceSetup {
  likelihood: LaplaceLikelihood;
  hessian: HessianStructure;
  /** null: tuned by marginal likelihood. */
  priorPrecision: number | null;
  /** The training data's key on the device (fits after the last epoch, or lazily at prediction while it is there). */
  dataKey: string;
}

/** The full GGN is eigendecomposed in O(P³) and stored as P² float64: beyond this many parameters use 'diag'. */
export const FULL_MAX_PARAMS = 4000;

const HESSIAN: OptionSpec = { key: 'hessian', flag: '--laplace-hessian', arg: '<full|diag>', help: 'GGN Hessian of the last layer: full, or its diagonal', kind: 'choice', choices: ['full', 'diag'], defaultText: 'full' };
const PRIOR_PRECISION: OptionSpec = { key: 'priorPrecision', flag: '--prior-precision', arg: '<delta>', help: 'prior precision of the last layer', kind: 'number', min: 0, minExclusive: true, defaultText: 'maximises the marginal likelihood' };
const PREDICTIVE: OptionSpec = { key: 'predictive', flag: '--laplace-pred', arg: '<mc|probit>', help: 'predict with sampled last layers, or the probit approximation (classification)', kind: 'choice', choices: ['mc', 'probit'], defaultText: 'mc' };
const SAMPLES = NUM_SAMPLES('weight samples', 20);

export const laplace: Algorithm<ResolvedLaplace> = {
  name: 'laplace',
  title: 'last-layer Laplace',
  summary: 'a Gaussian on the last layer of each MAP network, prior tuned by marginal likelihood (Daxberger et al. 2021)',
  options: [HESSIAN, PRIOR_PRECISION, PREDICTIVE, SAMPLES],
  resumeKeys: ['hessian', 'priorPrecision'],
  deviceModule: path.join(__dirname, 'device.js'),
  resolve: (raw) => ({
    hessian: readOption<HessianStructure>(raw, HESSIAN, 'full'),
    priorPrecision: readOption<number | null>(raw, PRIOR_PRECISION, null),
    predictive: readOption<'mc' | 'probit'>(raw, PREDICTIVE, 'mc'),
    numSamples: readOption(raw, SAMPLES, 20),
  }),
  driver(o, model, _common, io) {
    const { H, K } = lastLayerOf(model, io.numParams);
    const likelihood = likelihoodOf(io.loss);
    if (o.predictive === 'probit' && likelihood !== 'classification') throw new PushInputError(`predictive "probit" is for classification (cross-entropy): this model is trained with ${io.loss}; use "mc"`);
    const P = (H + 1) * K;
    if (o.hessian === 'full' && P > FULL_MAX_PARAMS) {
      throw new PushInputError(`the last layer has ${P} parameters: a full Hessian takes at most ${FULL_MAX_PARAMS} (O(P³) time, P² values); use hessian "diag" (--laplace-hessian diag)`);
    }
    const setup: LaplaceSetup = { likelihood, hessian: o.hessian, priorPrecision: o.priorPrecision, dataKey: TRAIN_DATA_KEY };
    return {
      model,
      setup: () => setup,
      // The ensemble's MAP epoch; the last one ends with the fit on each device.
      runEpoch: (ctx, epoch) => stackedEpoch(ctx, epoch, 'laplaceEpoch', { fit: epoch === ctx.common.epochs - 1 }),
    };
  },
  predictionPlan(o, { particleSeeds }, numSamples) {
    if (o.predictive === 'probit') return { perParticle: 1, args: { predictive: 'probit' }, memberName: 'particles' };
    return { perParticle: numSamples ?? o.numSamples, args: { predictive: 'mc' }, perPid: particleSeeds.map(sampleSeed), memberName: 'samples' };
  },
  // The fitted posterior: record fields, and one file of float64: mean θ* [P], the GGN's
  // eigenvalues (full) or diagonal (diag) [P], then (full) its eigenvectors [P, P].
  codec: {
    encode(state) {
      const f = state as LastLayerLaplace;
      const parts = [f.theta, f.factor.values, ...(f.factor.vectors ? [f.factor.vectors] : [])];
      const data = new Uint8Array(parts.reduce((s, a) => s + a.byteLength, 0));
      let at = 0;
      for (const a of parts) (data.set(bytesOf(a), at), (at += a.byteLength));
      const { likelihood, structure, H, K, priorPrecision, sigmaNoise, logMarginalLikelihood } = f;
      return { fields: { laplace: { likelihood, structure, H, K, priorPrecision, sigmaNoise, logMarginalLikelihood } }, files: { laplace: data } };
    },
    decode(record, file, n, where) {
      const r = record.laplace as Record<string, unknown> | undefined;
      if (r === undefined) return undefined; // saved before the fit: it is fitted when training ends
      return decodeFit(r, file('laplace'), n, where);
    },
  },
};

function likelihoodOf(loss: string): LaplaceLikelihood {
  if (loss === 'cross-entropy') return 'classification';
  if (loss === 'mse') return 'regression';
  throw new PushInputError(`laplace supports mse (regression) and cross-entropy (classification), not loss ${describeValue(loss)}`);
}

/** A fitted posterior from a checkpoint record, every field and size checked against the model's n parameters. */
export function decodeFit(r: Record<string, unknown>, data: Uint8Array | undefined, n: number, where: string): LastLayerLaplace {
  const bad = (field: string, expected: string) => new PushInputError(`${where}: laplace.${field} is ${describeValue(r?.[field])}, expected ${expected}: the checkpoint is corrupt`);
  if (!r || typeof r !== 'object') throw new PushInputError(`${where}: its laplace record is ${describeValue(r)}, expected an object: the checkpoint is corrupt`);
  const { likelihood, structure, H, K, priorPrecision, sigmaNoise, logMarginalLikelihood } = r;
  if (likelihood !== 'regression' && likelihood !== 'classification') throw bad('likelihood', '"regression" or "classification"');
  if (structure !== 'full' && structure !== 'diag') throw bad('structure', '"full" or "diag"');
  if (!Number.isSafeInteger(H) || (H as number) < 1) throw bad('H', 'a whole number >= 1');
  if (!Number.isSafeInteger(K) || (K as number) < 1) throw bad('K', 'a whole number >= 1');
  const P = ((H as number) + 1) * (K as number);
  if (P > n) throw new PushInputError(`${where}: its laplace last layer has ${P} parameters, more than the model's ${n}: the checkpoint is corrupt`);
  if (structure === 'full' && P > FULL_MAX_PARAMS) throw new PushInputError(`${where}: its full laplace last layer has ${P} parameters, at most ${FULL_MAX_PARAMS} expected: the checkpoint is corrupt`);
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (!positive(priorPrecision)) throw bad('priorPrecision', 'a finite number > 0');
  if (!positive(sigmaNoise)) throw bad('sigmaNoise', 'a finite number > 0');
  if (typeof logMarginalLikelihood !== 'number' || Number.isNaN(logMarginalLikelihood)) throw bad('logMarginalLikelihood', 'a number');
  if (!data) throw new PushInputError(`${where}: its laplace record lists no laplace file: the checkpoint is corrupt`);
  const count = 2 * P + (structure === 'full' ? P * P : 0);
  const all = float64Of(data, `${where}: laplace file`, count);
  if (!all.every(Number.isFinite)) throw new PushInputError(`${where}: its laplace file holds a value that is not finite: the checkpoint is corrupt`);
  const values = all.subarray(P, 2 * P);
  if (!values.every((v) => v >= 0)) throw new PushInputError(`${where}: its laplace GGN has a negative eigenvalue: the checkpoint is corrupt`);
  return {
    likelihood,
    structure,
    H: H as number,
    K: K as number,
    P,
    theta: all.subarray(0, P),
    priorPrecision: priorPrecision as number,
    sigmaNoise: sigmaNoise as number,
    factor: { structure, P, values, ...(structure === 'full' ? { vectors: all.subarray(2 * P) } : {}) },
    logMarginalLikelihood: logMarginalLikelihood as number,
  };
}
