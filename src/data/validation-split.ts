// A validation split carved out of a training split, for fitting calibration
// (temperature, variance scale, conformal scores) on examples the particles
// never trained on and that are not the test split either.
import { PushInputError } from '../util/errors';
import { deriveSeed } from '../util/rng';
import type { DataSplit } from './dataset';
import { splitTrainTest } from './split';

const VAL_STREAM = 0x76616c69; // "vali"

/**
 * Moves round(N_train * valFraction) training examples (a seeded choice, at least 1)
 * into `val`; valFraction 0 returns the split unchanged. The test split is untouched.
 */
export function carveValidation(split: DataSplit, valFraction: number, seed: number): DataSplit {
  if (!(valFraction >= 0 && valFraction < 1)) throw new PushInputError(`validation fraction ${valFraction}: expected a number in [0, 1)`);
  if (valFraction === 0) return split;
  if (split.normalization) throw new PushInputError('carveValidation needs data in original units: carve before standardizing');
  const n = split.train.xShape[0];
  if (n < 2) throw new PushInputError(`data ${JSON.stringify(split.train.name)} has ${n} training example(s): expected at least 2 to carve a validation split`);
  const parts = splitTrainTest(split.train, valFraction, deriveSeed(seed >>> 0, VAL_STREAM));
  return { ...split, train: parts.train, val: parts.test };
}
