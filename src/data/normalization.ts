// Standardisation with training-set statistics, and the inverse maps that let
// metrics and predictions be reported in the data's original units.

import { PushInputError } from '../util/errors';
import { Dataset, Normalization, featureSize, targetSize } from './dataset';

export interface NormalizeWhat {
  /** Standardize each input feature (false: identity statistics 0 / 1). */
  x: boolean;
  /** Standardize each regression target column. */
  y: boolean;
}

// A column this flat is constant: dividing by its std would only amplify rounding.
const MIN_STD = 1e-12;

/**
 * Mean and (population) std of each feature and, if asked, each target
 * column of `train`. A constant column gets std 1 so it maps to 0, not NaN.
 */
export function fitNormalization(
  train: Dataset,
  what: NormalizeWhat = { x: true, y: train.task === 'regression' },
): Normalization {
  const d = featureSize(train);
  const norm: Normalization = what.x
    ? columnStats(train.x, d)
    : { xMean: new Array<number>(d).fill(0), xStd: new Array<number>(d).fill(1) };
  if (what.y) {
    if (train.task !== 'regression') {
      throw new PushInputError(
        `dataset ${JSON.stringify(train.name)} is classification: its labels cannot be standardized, expected y: false`,
      );
    }
    const stats = columnStats(train.y, targetSize(train));
    norm.yMean = stats.xMean;
    norm.yStd = stats.xStd;
  }
  return norm;
}

function columnStats(values: Float32Array, cols: number): { xMean: number[]; xStd: number[] } {
  const rows = values.length / cols;
  const mean = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let i = 0; i < values.length; i++) mean[i % cols] += values[i];
  for (let c = 0; c < cols; c++) mean[c] /= rows;
  for (let i = 0; i < values.length; i++) {
    const dev = values[i] - mean[i % cols];
    sq[i % cols] += dev * dev;
  }
  const std = Array.from(sq, (s) => {
    const sd = Math.sqrt(s / rows);
    return sd > MIN_STD ? sd : 1;
  });
  return { xMean: Array.from(mean), xStd: std };
}

/** A copy of `ds` with inputs (and regression targets, if `norm` has y stats) standardized. */
export function applyNormalization(ds: Dataset, norm: Normalization): Dataset {
  if (featureSize(ds) !== norm.xMean.length) {
    throw new PushInputError(
      `dataset ${JSON.stringify(ds.name)} has ${featureSize(ds)} features per row, ` +
        `expected ${norm.xMean.length} as in the normalization`,
    );
  }
  const x = normalizeInputs(ds.x, norm);
  let y = ds.y;
  if (norm.yMean && norm.yStd && ds.task === 'regression') {
    y = affine(ds.y, norm.yMean, norm.yStd, 'forward', 'target');
  }
  return { ...ds, x, y };
}

/** Standardize a row-major input matrix, e.g. prediction inputs read from a CSV. */
export function normalizeInputs(x: Float32Array, norm: Normalization): Float32Array {
  return affine(x, norm.xMean, norm.xStd, 'forward', 'input');
}

/** Map standardized inputs (row-major [M, ...]) back to original units. */
export function denormalizeInputs(x: Float32Array, norm: Normalization): Float32Array {
  return affine(x, norm.xMean, norm.xStd, 'inverse', 'input');
}

/** Map standardized targets (row-major [M, d]) back to original units; a copy if there are no y stats. */
export function denormalizeTargets(values: Float32Array, norm: Normalization): Float32Array {
  if (!norm.yMean || !norm.yStd) return values.slice();
  return affine(values, norm.yMean, norm.yStd, 'inverse', 'target');
}

/** Map variances of standardized targets back to original units: var * std². */
export function denormalizeVariance(variance: Float32Array, norm: Normalization): Float32Array {
  if (!norm.yStd) return variance.slice();
  const zeros = new Array<number>(norm.yStd.length).fill(0);
  const squared = norm.yStd.map((s) => s * s);
  return affine(variance, zeros, squared, 'inverse', 'target');
}

/** forward: (v - mean) / scale; inverse: v * scale + mean, column by column. */
function affine(
  values: Float32Array,
  mean: number[],
  scale: number[],
  direction: 'forward' | 'inverse',
  what: 'input' | 'target',
): Float32Array {
  const cols = mean.length;
  if (cols === 0 || values.length % cols !== 0) {
    throw new PushInputError(
      `${what} data has ${values.length} values, expected a multiple of ${cols} (the ${what} columns in the normalization)`,
    );
  }
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % cols;
    out[i] = direction === 'forward' ? (values[i] - mean[c]) / scale[c] : values[i] * scale[c] + mean[c];
  }
  return out;
}
