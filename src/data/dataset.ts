// The in-memory dataset: plain typed arrays (no tfjs), so a dataset can be
// posted to device workers as it is.

export type Task = 'regression' | 'classification';

export interface Dataset {
  /** The data spec it came from, e.g. "two-moons:512" or "csv:houses.csv:price". */
  name: string;
  task: Task;
  /** Inputs, row-major, shape [N, ...feature dims]. */
  x: Float32Array;
  xShape: number[];
  /** Targets: regression [N, d]; classification [N] of class indices stored as floats. */
  y: Float32Array;
  yShape: number[];
  /** Classification only: labels are 0 .. numClasses-1. */
  numClasses?: number;
  /** Classification only, when the labels were strings: the name of each class index. */
  classNames?: string[];
  featureNames?: string[];
  /** CSV only: the file's column number (1-based) of each feature, so errors can point at columns without quoting them. */
  featureColumns?: number[];
  targetName?: string;
}

/**
 * Per-feature (and, for regression, per-target) statistics of the training set.
 * JSON-serialisable: it is stored in checkpoints so predictions can be mapped back.
 */
export interface Normalization {
  xMean: number[];
  xStd: number[];
  yMean?: number[];
  yStd?: number[];
}

export interface DataSplit {
  /** A validation split carved from the training data (calibration), when asked for. */
  val?: Dataset;
  train: Dataset;
  /** Absent when there is no test split (testFraction 0). */
  test?: Dataset;
  /** Present when the data was standardized; the datasets above are then in standardized units. */
  normalization?: Normalization;
}

export function numExamples(ds: Dataset): number {
  return ds.xShape[0];
}

/** Number of floats in one input row: the product of the feature dims. */
export function featureSize(ds: Dataset): number {
  return rowSizeOf(ds.xShape);
}

/** Number of floats in one target row: d for regression, 1 for classification. */
export function targetSize(ds: Dataset): number {
  return rowSizeOf(ds.yShape);
}

/** Product of all dims after the first (1 for a 1-D shape). */
export function rowSizeOf(shape: readonly number[]): number {
  let size = 1;
  for (let i = 1; i < shape.length; i++) size *= shape[i];
  return size;
}

/**
 * Copy the rows `indices` of a row-major matrix into `out` (or a new array).
 * Rows may repeat (bootstrap samples).
 */
export function gatherRows(
  x: Float32Array,
  rowSize: number,
  indices: ArrayLike<number>,
  out?: Float32Array,
): Float32Array {
  const needed = indices.length * rowSize;
  if (out !== undefined && out.length < needed) {
    throw new RangeError(`gatherRows: out holds ${out.length} floats, expected at least ${needed}`);
  }
  const result = out ?? new Float32Array(needed);
  const numRows = rowSize > 0 ? x.length / rowSize : 0;
  for (let k = 0; k < indices.length; k++) {
    const row = indices[k];
    if (!(row >= 0 && row < numRows) || !Number.isInteger(row)) {
      throw new RangeError(`gatherRows: index ${row} at position ${k}, expected an integer in [0, ${numRows})`);
    }
    if (rowSize === 1) result[k] = x[row];
    else result.set(x.subarray(row * rowSize, (row + 1) * rowSize), k * rowSize);
  }
  return result;
}

/** The examples at `indices` (in that order, repeats allowed), as a new dataset. */
export function subset(ds: Dataset, indices: Int32Array): Dataset {
  const x = gatherRows(ds.x, featureSize(ds), indices);
  const y = gatherRows(ds.y, targetSize(ds), indices);
  return {
    ...ds,
    x,
    xShape: [indices.length, ...ds.xShape.slice(1)],
    y,
    yShape: [indices.length, ...ds.yShape.slice(1)],
  };
}

/** One line for logs and the CLI, e.g. `toy: regression, 102 examples, x [102,1], y [102,1]`. */
export function summarizeDataset(ds: Dataset): string {
  const classes = ds.task === 'classification' ? `, ${ds.numClasses} classes` : '';
  return (
    `${ds.name}: ${ds.task}, ${numExamples(ds)} examples, ` +
    `x [${ds.xShape.join(',')}], y [${ds.yShape.join(',')}]${classes}`
  );
}
