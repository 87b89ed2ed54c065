// Seeded train/test split for data that has no natural test set.

import { PushInputError } from '../util/errors';
import { Rng } from '../util/rng';
import { DataSplit, Dataset, numExamples, subset } from './dataset';

/**
 * Puts round(N * testFraction) examples, chosen by a seeded shuffle, in the
 * test set (at least 1 when testFraction > 0, and at least 1 left to train).
 * Both parts keep the original order of their examples. testFraction 0 gives
 * no test set.
 */
export function splitTrainTest(ds: Dataset, testFraction: number, seed: number): DataSplit {
  checkTestFraction(testFraction);
  const n = numExamples(ds);
  if (testFraction === 0) return { train: ds };
  if (n < 2) {
    throw new PushInputError(
      `dataset ${JSON.stringify(ds.name)} has ${n} example(s): expected at least 2 to split off a test set (or test fraction 0)`,
    );
  }
  const numTest = Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
  const order = new Rng(seed).permutation(n);
  const testIdx = order.slice(0, numTest).sort();
  const trainIdx = order.slice(numTest).sort();
  return { train: subset(ds, trainIdx), test: subset(ds, testIdx) };
}

export function checkTestFraction(testFraction: number): void {
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new PushInputError(`test fraction ${testFraction}: expected a number in [0, 1)`);
  }
}
