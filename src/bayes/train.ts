// The training API: train(name, options) finds the algorithm in the registry;
// the named wrappers are the same call with the algorithm's options typed.
import type { Posterior } from './posterior';
import type { CommonTrainOptions } from './train-options';
import { runTraining } from './training';
import { algorithmNamed } from './algorithms/registry';
import { EnsembleFields, ensemble } from './algorithms/ensemble';
import { MultiSWAGFields, mswag } from './algorithms/mswag';
import { SvgdFields, svgd } from './algorithms/svgd';
import { McDropoutFields, mcdropout } from './algorithms/mcdropout';
import type { SgldFields } from './algorithms/sgld';
import type { CyclicalFields } from './algorithms/cyclical';

export interface EnsembleOptions extends CommonTrainOptions, EnsembleFields {}
export interface MultiSWAGOptions extends CommonTrainOptions, MultiSWAGFields {}
/** @deprecated The name is MultiSWAGOptions (one spelling per algorithm). */
export type MultiSwagOptions = MultiSWAGOptions;
export interface SvgdTrainOptions extends CommonTrainOptions, SvgdFields {}
export interface McDropoutOptions extends CommonTrainOptions, McDropoutFields {}
/** Options of SGLD (train it by its registry name). */
export interface SgldOptions extends CommonTrainOptions, SgldFields {}
/** Options of cyclical SGLD (train it by its registry name). */
export interface CyclicalOptions extends CommonTrainOptions, CyclicalFields {}

/**
 * Trains the algorithm called `name` (see ALGORITHM_NAMES) with the common options and its
 * own; an option the algorithm does not know is ignored, a bad value is a PushInputError.
 */
export function train(name: string, options: CommonTrainOptions & Record<string, unknown>): Promise<Posterior> {
  return Promise.resolve().then(() => runTraining(algorithmNamed(name), options));
}

/** Trains a deep ensemble: `particles` networks from their own seeds. */
export const trainDeepEnsemble = (options: EnsembleOptions): Promise<Posterior> => runTraining(ensemble, options);
/** Trains MultiSWAG: `epochs` in all, of which the last `swagEpochs` collect moments. */
export const trainMultiSWAG = (options: MultiSWAGOptions): Promise<Posterior> => runTraining(mswag, options);
/** Trains `particles` SVGD particles towards log p = -(N/T) mean per-example loss - |theta|^2 / (2 priorStd^2). */
export const trainSVGD = (options: SvgdTrainOptions): Promise<Posterior> => runTraining(svgd, options);
/** Trains `particles` MC-dropout networks. */
export const trainMCDropout = (options: McDropoutOptions): Promise<Posterior> => runTraining(mcdropout, options);
