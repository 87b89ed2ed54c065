// Checks a dataset before training, so a bad value is reported by row and
// column instead of surfacing later as a NaN loss.

import { PushInputError } from '../util/errors';
import { Dataset } from './dataset';

/**
 * Throws PushInputError for shape mismatches, NaN/Infinity in inputs or
 * targets, and labels that are not integers in [0, numClasses). Rows and
 * columns in the messages are 0-based example and feature indices.
 */
export function validateDataset(ds: Dataset): void {
  const where = `dataset ${JSON.stringify(ds.name)}`;
  checkShape(where, 'xShape', ds.xShape, ds.x.length);
  checkShape(where, 'yShape', ds.yShape, ds.y.length);
  const n = ds.xShape[0];
  if (ds.yShape[0] !== n) {
    throw new PushInputError(`${where}: x has ${n} rows but y has ${ds.yShape[0]}, expected the same number`);
  }
  if (n === 0) throw new PushInputError(`${where}: has no examples, expected at least 1`);

  const rowSize = ds.x.length / n;
  for (let i = 0; i < ds.x.length; i++) {
    if (!Number.isFinite(ds.x[i])) {
      const col = i % rowSize;
      throw new PushInputError(
        `${where}: input row ${Math.floor(i / rowSize)}, column ${describeColumn(col, ds.featureNames)} is ` +
          `${ds.x[i]}, expected a finite number`,
      );
    }
  }
  if (ds.task === 'regression') validateRegressionTargets(where, ds);
  else validateLabels(where, ds);
}

function checkShape(where: string, what: string, shape: number[], length: number): void {
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new PushInputError(`${where}: ${what} is [${shape.join(',')}], expected non-negative integer dims`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== length) {
    throw new PushInputError(`${where}: ${what} [${shape.join(',')}] holds ${size} values but the array has ${length}`);
  }
}

function validateRegressionTargets(where: string, ds: Dataset): void {
  if (ds.yShape.length !== 2) {
    throw new PushInputError(`${where}: regression yShape is [${ds.yShape.join(',')}], expected [N, d]`);
  }
  const d = ds.yShape[1];
  for (let i = 0; i < ds.y.length; i++) {
    if (!Number.isFinite(ds.y[i])) {
      const target = d === 1 && ds.targetName ? ` "${ds.targetName}"` : ` column ${i % d}`;
      throw new PushInputError(
        `${where}: target row ${Math.floor(i / d)},${target} is ${ds.y[i]}, expected a finite number`,
      );
    }
  }
}

function validateLabels(where: string, ds: Dataset): void {
  if (ds.yShape.length !== 1) {
    throw new PushInputError(
      `${where}: classification yShape is [${ds.yShape.join(',')}], expected [N] of class indices`,
    );
  }
  const k = ds.numClasses;
  if (k === undefined || !Number.isInteger(k) || k < 1) {
    throw new PushInputError(`${where}: numClasses is ${k}, expected a positive integer for classification`);
  }
  for (let i = 0; i < ds.y.length; i++) {
    const label = ds.y[i];
    if (!Number.isInteger(label) || label < 0 || label >= k) {
      throw new PushInputError(
        `${where}: label at row ${i} is ${label}, expected an integer class index in [0, ${k - 1}]`,
      );
    }
  }
}

function describeColumn(col: number, featureNames?: string[]): string {
  const name = featureNames?.[col];
  return name === undefined ? String(col) : `${col} "${name}"`;
}
