// One front door for training and prediction data: nested number arrays,
// typed arrays with shapes, tf tensors, or src/data's Dataset / DataSplit all
// become plain row-major Float32Arrays with shapes, checked against the model
// (input size, output width, labels, finite values) with one-line errors.
import { createHash } from 'node:crypto';
import { PushInputError, describeValue } from '../util/errors';
import type { DataSplit, Dataset, Normalization, Task } from '../data/dataset';
import type { LossName } from '../nn/losses';

/** Nested arrays of numbers: [N] or [N, ...] (rows must not be ragged). */
export type NestedNumbers = number[] | NestedNumbers[];

/** Anything that looks like a tf.Tensor (of any tfjs copy): read through dataSync. */
export interface TensorLike {
  shape: number[];
  dtype: string;
  dataSync(): ArrayLike<number>;
}

type NumericArray = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** An array of examples: nested numbers, a typed array (shape given next to it, or inferred), or a tensor. */
export type ArrayInput = NestedNumbers | NumericArray | TensorLike;

export interface XYInput {
  x: ArrayInput;
  y: ArrayInput;
  xShape?: number[];
  yShape?: number[];
}

/** What the training functions accept as `data`. */
export type DataInput =
  | (XYInput & {
      /** A held-out split, evaluated after training. */
      test?: XYInput;
      task?: Task;
      numClasses?: number;
      /** Statistics the data was standardized with (kept in checkpoints). */
      normalization?: Normalization;
      name?: string;
    })
  | Dataset
  | DataSplit;

/** Examples as row-major float32 with their shape ([N, ...]): the runtime's type, the one name for it. */
import type { ArrayData } from '../runtime/training-handlers';
export type { ArrayData };

/** Data after normalizeData, before it is fitted to a model. */
export interface NormalizedData {
  name?: string;
  task?: Task;
  numClasses?: number;
  normalization?: Normalization;
  train: ArrayData;
  test?: ArrayData;
}

/** What the model and loss ask of the data. */
export interface ModelIO {
  inputShape: readonly number[];
  outputSize: number;
  loss: LossName;
}

/** Data fitted to a model: targets reshaped for the loss, task and class count settled. */
export interface TrainingData extends NormalizedData {
  task: Task;
  /** Regression: values per target row; classification: 1 (a class index per example). */
  targetSize: number;
}

const prod = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function isTensorLike(v: unknown): v is TensorLike {
  const t = v as TensorLike;
  return !!t && typeof t === 'object' && typeof t.dataSync === 'function' && Array.isArray(t.shape) && typeof t.dtype === 'string';
}

function isDataset(v: unknown): v is Dataset {
  const d = v as Dataset;
  return !!d && typeof d === 'object' && (d.task === 'regression' || d.task === 'classification') && d.x instanceof Float32Array && Array.isArray(d.xShape);
}

function isDataSplit(v: unknown): v is DataSplit {
  return !!v && typeof v === 'object' && isDataset((v as DataSplit).train);
}

/** Shape of a nested array, checking that it is rectangular and holds only numbers. */
function nestedShape(a: NestedNumbers, what: string): number[] {
  const shape: number[] = [];
  let level: unknown = a;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  const check = (v: unknown, depth: number, path: number[]): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number') throw new PushInputError(`${what}[${path.join('][')}] is ${describeValue(v)}: expected a number`);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new PushInputError(`${what}[${path.join('][')}] has ${Array.isArray(v) ? v.length : 'no'} entries: expected ${shape[depth]} (the rows of a nested array must all have the same length)`);
    }
    v.forEach((e, i) => check(e, depth + 1, [...path, i]));
  };
  check(a, 0, []);
  return shape;
}

/**
 * Reads one array of examples into float32 with its shape. `rowShape` (the shape of one
 * example) is used when the input carries no shape of its own: a flat typed array.
 */
export function readArray(input: ArrayInput, what: string, shape?: number[], rowShape?: readonly number[]): { data: Float32Array; shape: number[] } {
  if (isTensorLike(input)) {
    const raw = input.dataSync();
    return { data: raw instanceof Float32Array ? raw.slice() : Float32Array.from(raw), shape: [...input.shape] };
  }
  if (ArrayBuffer.isView(input)) {
    const data = input instanceof Float32Array ? input : Float32Array.from(input as NumericArray);
    let s = shape;
    if (!s) {
      const row = rowShape ? prod(rowShape) : 1;
      if (data.length % row !== 0) throw new PushInputError(`${what} has ${data.length} values: expected a multiple of ${row} (values per example); or give its shape`);
      s = rowShape ? [data.length / row, ...rowShape] : [data.length];
    }
    if (!Array.isArray(s) || s.length === 0 || !s.every((d) => Number.isInteger(d) && d >= 0)) throw new PushInputError(`${what} shape ${describeValue(s)}: expected an array of whole numbers`);
    if (prod(s) !== data.length) throw new PushInputError(`${what} shape [${s.join(', ')}] holds ${prod(s)} values but the array has ${data.length}`);
    return { data, shape: [...s] };
  }
  if (Array.isArray(input)) {
    const s = nestedShape(input, what);
    const flat = (input as unknown[]).flat(Infinity) as number[];
    return { data: Float32Array.from(flat), shape: s.length === 1 && rowShape ? [s[0], ...rowShape] : s };
  }
  throw new PushInputError(`${what} is ${describeValue(input)}: expected nested number arrays, a typed array or a tf tensor`);
}

function readXY(input: XYInput, what: string, rowShape?: readonly number[]): ArrayData {
  if (!input || typeof input !== 'object' || input.x === undefined || input.y === undefined) {
    throw new PushInputError(`${what} ${describeValue(input)}: expected {x, y}`);
  }
  const x = readArray(input.x, `${what}.x`, input.xShape, rowShape);
  if (x.shape.length === 1) x.shape = [x.shape[0], 1]; // a list of scalars is N examples of one feature
  const y = readArray(input.y, `${what}.y`, input.yShape);
  return { x: x.data, xShape: x.shape, y: y.data, yShape: y.shape };
}

function fromDataset(ds: Dataset): ArrayData {
  return { x: ds.x, xShape: [...ds.xShape], y: ds.y, yShape: [...ds.yShape] };
}

/** Turns any accepted form of `data` into float32 arrays with shapes (not yet checked against a model). */
export function normalizeData(input: DataInput, rowShape?: readonly number[]): NormalizedData {
  if (input === null || typeof input !== 'object') throw new PushInputError(`data ${describeValue(input)}: expected {x, y}, a Dataset or a DataSplit`);
  if (isDataSplit(input)) {
    const { train, test, normalization } = input;
    return { name: train.name, task: train.task, numClasses: train.numClasses, normalization, train: fromDataset(train), test: test && fromDataset(test) };
  }
  if (isDataset(input)) return { name: input.name, task: input.task, numClasses: input.numClasses, train: fromDataset(input) };
  const xy = input as Exclude<DataInput, Dataset | DataSplit>;
  return {
    name: xy.name,
    task: xy.task,
    numClasses: xy.numClasses,
    normalization: xy.normalization,
    train: readXY(xy, 'data', rowShape),
    test: xy.test === undefined ? undefined : readXY(xy.test, 'data.test', rowShape),
  };
}

/** The task a loss trains for. */
export function taskOfLoss(loss: LossName): Task {
  return loss === 'cross-entropy' ? 'classification' : 'regression';
}

/**
 * The input shape and output width the data asks of a model whose sizes are
 * left open (nn.mlp(hidden)): one example's shape; classes, targets, or
 * 2 x targets for gaussian-nll.
 */
export function modelIOFromData(data: NormalizedData, loss: LossName): { inputShape: number[]; outputSize: number } {
  const inputShape = data.train.xShape.slice(1);
  const yRow = prod(data.train.yShape.slice(1));
  if (taskOfLoss(loss) === 'classification') {
    if (data.numClasses !== undefined) return { inputShape, outputSize: data.numClasses };
    if (yRow > 1) return { inputShape, outputSize: yRow }; // one-hot rows
    let top = 0;
    for (const split of [data.train, data.test]) split?.y.forEach((l) => (top = Math.max(top, l)));
    // At least 2 logits; a bad label (negative, fractional) is reported by fitDataToModel.
    return { inputShape, outputSize: Math.max(2, Number.isInteger(top) ? top + 1 : 2) };
  }
  return { inputShape, outputSize: loss === 'gaussian-nll' ? 2 * yRow : yRow };
}

/** Checks data against the model and loss; reshapes targets to what the loss expects. */
export function fitDataToModel(data: NormalizedData, io: ModelIO): TrainingData {
  const task = taskOfLoss(io.loss);
  if (data.task !== undefined && data.task !== task) {
    const want = data.task === 'classification' ? 'cross-entropy' : 'mse or gaussian-nll';
    throw new PushInputError(`the data is ${data.task} but loss ${io.loss} is for ${task}: expected loss ${want}`);
  }
  const numClasses = task === 'classification' ? io.outputSize : undefined;
  if (numClasses !== undefined && data.numClasses !== undefined && data.numClasses > numClasses) {
    throw new PushInputError(`the data has ${data.numClasses} classes but the model outputs ${numClasses} logits: expected a last layer of ${data.numClasses} units`);
  }
  const fit = (d: ArrayData, what: string) => fitSplit(d, io, what);
  return {
    ...data,
    task,
    numClasses,
    targetSize: task === 'classification' ? 1 : targetWidth(io),
    train: fit(data.train, 'training data'),
    test: data.test && fit(data.test, 'test data'),
  };
}

function targetWidth(io: ModelIO): number {
  if (io.loss !== 'gaussian-nll') return io.outputSize;
  if (io.outputSize % 2 !== 0) throw new PushInputError(`loss gaussian-nll needs an even model output [means | raw variances], got ${io.outputSize} outputs`);
  return io.outputSize / 2;
}

function fitSplit(d: ArrayData, io: ModelIO, what: string): ArrayData {
  const n = d.xShape[0];
  if (!(n >= 1)) throw new PushInputError(`${what} has no examples: expected at least 1`);
  if (d.yShape[0] !== n) throw new PushInputError(`${what} has ${n} inputs but ${d.yShape[0]} targets: expected one target row per input row`);
  const featureSize = prod(d.xShape.slice(1));
  const want = prod(io.inputShape);
  if (featureSize !== want) {
    throw new PushInputError(`${what} x has rows of shape [${d.xShape.slice(1).join(', ')}] (${featureSize} values) but the model takes inputs of shape [${io.inputShape.join(', ')}] (${want} values)`);
  }
  checkFinite(d.x, featureSize, `${what} x`);
  const yRow = prod(d.yShape.slice(1));
  let y = d.y;
  let yShape: number[];
  if (io.loss === 'cross-entropy') {
    const C = io.outputSize;
    if (yRow === C && C > 1) y = labelsFromOneHot(d.y, n, C, what);
    else if (yRow !== 1) throw new PushInputError(`${what} y has rows of ${yRow} values: expected class labels [N] (or one-hot [N, ${C}]) for cross-entropy`);
    checkLabels(y, C, what);
    yShape = [n];
  } else {
    const width = targetWidth(io);
    if (yRow !== width) {
      const why = io.loss === 'gaussian-nll' ? ` (half of the model's ${io.outputSize} outputs: means, then raw variances)` : ' (the model\'s output width)';
      throw new PushInputError(`${what} y has rows of ${yRow} values: expected ${width}${why}`);
    }
    checkFinite(y, yRow, `${what} y`);
    yShape = [n, width];
  }
  return { x: d.x, xShape: [n, ...io.inputShape], y, yShape };
}

function checkFinite(a: Float32Array, row: number, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new PushInputError(`${what}: row ${Math.floor(i / row)}, column ${i % row} is ${a[i]}, expected a finite number`);
  }
}

function checkLabels(y: Float32Array, C: number, what: string): void {
  for (let i = 0; i < y.length; i++) {
    const l = y[i];
    if (!Number.isInteger(l) || l < 0 || l >= C) throw new PushInputError(`${what}: label at row ${i} is ${l}, expected a class index in [0, ${C - 1}] (the model outputs ${C} logits)`);
  }
}

function labelsFromOneHot(y: Float32Array, n: number, C: number, what: string): Float32Array {
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let hot = -1;
    for (let c = 0; c < C; c++) {
      const v = y[i * C + c];
      if (v === 1 && hot < 0) hot = c;
      else if (v !== 0) hot = -2;
    }
    if (hot < 0) throw new PushInputError(`${what}: target row ${i} is not one-hot: expected ${C} values, one 1 and the rest 0`);
    labels[i] = hot;
  }
  return labels;
}

/** Inputs for prediction: any accepted form, checked against the model's input shape. Returns [M, ...inputShape]. */
export function readInputs(x: ArrayInput | Dataset | { x: ArrayInput; xShape?: number[] }, inputShape: readonly number[], what = 'x'): { x: Float32Array; shape: number[] } {
  const wrapped = !ArrayBuffer.isView(x) && !Array.isArray(x) && !isTensorLike(x) && typeof x === 'object' && x !== null && 'x' in x;
  const read = wrapped
    ? readArray((x as { x: ArrayInput }).x, what, (x as { xShape?: number[] }).xShape, inputShape)
    : readArray(x as ArrayInput, what, undefined, inputShape);
  const want = prod(inputShape);
  const n = read.shape[0];
  const row = read.shape.length === 1 ? 1 : prod(read.shape.slice(1));
  if (row !== want) {
    throw new PushInputError(`${what} has rows of shape [${read.shape.slice(1).join(', ')}] (${row} values) but the model takes inputs of shape [${inputShape.join(', ')}] (${want} values)`);
  }
  checkFinite(read.data, want, what);
  return { x: read.data, shape: [n, ...inputShape] };
}

/** A content hash of a training set: resuming checks it is the same data. */
export function dataHash(d: ArrayData): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([d.xShape, d.yShape]));
  h.update(new Uint8Array(d.x.buffer, d.x.byteOffset, d.x.byteLength));
  h.update(new Uint8Array(d.y.buffer, d.y.byteOffset, d.y.byteLength));
  return h.digest('hex');
}

/**
 * Targets for evaluation, checked against the task: regression [M, d] floats,
 * classification M class indices in [0, numClasses) (labels, or one-hot rows).
 */
export function readTargets(y: ArrayInput, m: number, task: Task, width: number, what = 'y'): Float32Array {
  // A flat typed array of m x width values is m rows of width (several regression targets, one-hot labels).
  const flatRows = ArrayBuffer.isView(y) && width > 1 && (y as NumericArray).length === m * width ? [width] : undefined;
  const read = readArray(y, what, undefined, flatRows);
  if (read.shape[0] !== m) throw new PushInputError(`${what} has ${read.shape[0]} rows but x has ${m}: expected one target row per input row`);
  const row = read.shape.length === 1 ? 1 : prod(read.shape.slice(1));
  if (task === 'classification') {
    const labels = row === width && width > 1 ? labelsFromOneHot(read.data, m, width, what) : read.data;
    if (row !== 1 && row !== width) throw new PushInputError(`${what} has rows of ${row} values: expected class labels [N] (or one-hot [N, ${width}])`);
    checkLabels(labels, width, what);
    return labels;
  }
  if (row !== width) throw new PushInputError(`${what} has rows of ${row} values: expected ${width} (the model's target width)`);
  checkFinite(read.data, row, what);
  return read.data;
}
