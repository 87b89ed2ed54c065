// Data on the command line: loading a data spec for training, choosing the
// loss that fits its task, and reading data again for predict/eval/plot with
// the split a checkpoint was trained with.
import { PushInputError } from '../util/errors';
import { DataSplit, Dataset, Task, featureSize } from '../data/dataset';
import { DataSpec, loadDataset, parseDataSpec, standardizeSplit } from '../data/specs';
import { carveValidation } from '../data/validation-split';
import type * as Csv from '../data/csv';
import type { LossName } from '../nn/losses';
import { show } from './options';

export const LOSSES_BY_TASK: Record<Task, readonly LossName[]> = {
  regression: ['mse', 'gaussian-nll'],
  classification: ['cross-entropy'],
};
export const ALL_LOSSES: readonly LossName[] = ['mse', 'gaussian-nll', 'cross-entropy', 'bce'];

export function defaultLoss(task: Task): LossName {
  return task === 'classification' ? 'cross-entropy' : 'mse';
}

/** The loss for data of `task`: `raw` if given and fitting, else the task's default. */
export function chooseLoss(raw: string | undefined, task: Task, dataName: string): LossName {
  if (raw === undefined) return defaultLoss(task);
  if (!(ALL_LOSSES as readonly string[]).includes(raw)) {
    throw new PushInputError(`--loss ${show(raw)}: expected one of ${[...LOSSES_BY_TASK.regression, ...LOSSES_BY_TASK.classification].join(', ')}`);
  }
  const fits = LOSSES_BY_TASK[task];
  if (!(fits as readonly string[]).includes(raw)) {
    throw new PushInputError(`--loss ${raw} does not fit data ${show(dataName)}, which is ${task}: expected ${fits.join(' or ')}`);
  }
  return raw as LossName;
}

/** Network outputs per example for a loss: targets, 2 x targets (gaussian-nll), or classes. */
export function outputSizeFor(train: Dataset, loss: LossName): number {
  if (train.task === 'classification') return train.numClasses ?? 1;
  const d = train.yShape.length > 1 ? train.yShape.slice(1).reduce((a, b) => a * b, 1) : 1;
  return loss === 'gaussian-nll' ? 2 * d : d;
}

export interface DataChoice {
  spec: string;
  seed: number;
  task?: Task;
  testFraction?: number;
  standardize?: boolean;
  /** Fraction of the training examples held out as a validation split (calibration data). */
  valFraction?: number;
}

export function parseDataSpecOption(raw: string): DataSpec {
  try {
    return parseDataSpec(raw);
  } catch (err) {
    if (err instanceof PushInputError) throw new PushInputError(`--data: ${err.message}`);
    throw err;
  }
}

/** Loads (or generates) and splits the training data. */
export function loadTrainingData(c: DataChoice): DataSplit {
  if (!c.valFraction) return loadDataset(c.spec, { seed: c.seed, task: c.task, testFraction: c.testFraction, standardize: c.standardize });
  // The validation examples leave the training set before standardizing, so its statistics never see them.
  const carved = carveValidation(loadDataset(c.spec, { seed: c.seed, task: c.task, testFraction: c.testFraction, standardize: false }), c.valFraction, c.seed);
  return c.standardize ? standardizeSplit(carved) : carved;
}

export type SplitName = 'train' | 'test' | 'all' | 'val';
export const SPLITS: readonly SplitName[] = ['test', 'train', 'all', 'val'];

/** What a checkpoint remembers about its data, so predict/eval/plot can redo the same split. */
export interface StoredData {
  spec: string;
  seed: number;
  task: Task;
  testFraction: number;
  featureNames?: string[];
  targetName?: string;
  classNames?: string[];
  /** Fraction of the training examples held out as the validation split (train --val-fraction); absent: none. */
  valFraction?: number;
}

/** Examples in original units for eval/plot: one split of the spec, split as in training. */
export function loadSplit(specText: string, stored: StoredData, which: SplitName): { train: Dataset; test?: Dataset; val?: Dataset; chosen: Dataset } {
  const spec = parseDataSpecOption(specText);
  const task = spec.kind === 'csv' ? stored.task : undefined;
  // A CSV's target is the checkpoint's target column (by name), not whatever column comes last.
  const byName = spec.kind === 'csv' && spec.target === undefined && stored.targetName !== undefined;
  const load = byName ? { ...spec, target: stored.targetName } : spec;
  let split: DataSplit;
  try {
    split = loadDataset(load, { seed: stored.seed, task, testFraction: stored.testFraction, standardize: false });
  } catch (err) {
    if (byName && err instanceof PushInputError && / for the target among /.test(err.message)) {
      throw new PushInputError(`--data ${show(specText)} has no target column ${show(stored.targetName!)}: expected the checkpoint's ${storedColumns(stored)}`);
    }
    throw err;
  }
  if (split.train.task !== stored.task) {
    throw new PushInputError(`--data ${show(specText)} is ${split.train.task} but the checkpoint was trained for ${stored.task}: expected ${stored.task} data`);
  }
  const carved = carveValidation(split, stored.valFraction ?? 0, stored.seed);
  split.train = alignToStored(carved.train, stored, specText);
  if (split.test) split.test = alignToStored(split.test, stored, specText);
  const val = carved.val && alignToStored(carved.val, stored, specText);
  let chosen: Dataset;
  if (which === 'val') {
    if (!val) throw new PushInputError(`--split val: the checkpoint has no validation split (train with --val-fraction F to hold one out)`);
    chosen = val;
  } else if (which === 'train') chosen = split.train;
  else if (which === 'test') {
    if (!split.test) {
      throw new PushInputError(`--data ${show(specText)} has no test split (test fraction 0): expected --split train or all`);
    }
    chosen = split.test;
  } else chosen = [val, split.test].reduce<Dataset>((a, b) => (b ? concat(a, b) : a), split.train);
  return { train: split.train, test: split.test, val, chosen };
}

/**
 * A CSV other than the training one may order its input columns differently or hold
 * only some of the classes: map columns by name and labels by class name to the
 * checkpoint's order.
 */
export function alignToStored(ds: Dataset, stored: StoredData, specText: string): Dataset {
  let out = ds;
  const want = stored.featureNames;
  const have = ds.featureNames;
  if (want && have && want.join('\u0000') !== have.join('\u0000')) {
    // The checkpoint's names are the user's training columns; the file's own header text is not echoed.
    const missing = want.filter((name) => !have.includes(name));
    if (missing.length > 0) {
      const cols = missing.map((n) => show(n)).join(', ');
      throw new PushInputError(`--data ${show(specText)} has no input column${missing.length > 1 ? 's' : ''} ${cols}: expected the checkpoint's ${storedColumns(stored)}`);
    }
    if (have.length !== want.length) {
      const extra = have.flatMap((name, j) => (want.includes(name) ? [] : [ds.featureColumns?.[j] ?? j + 1]));
      const where = ds.featureColumns ? `column${extra.length > 1 ? 's' : ''} ${extra.join(', ')}` : `input${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`;
      throw new PushInputError(
        `--data ${show(specText)} has ${extra.length} extra input column${extra.length > 1 ? 's' : ''} (${where}): expected only the checkpoint's ${storedColumns(stored)}`,
      );
    }
    const index = want.map((name) => have.indexOf(name));
    const n = ds.xShape[0];
    const k = want.length;
    const x = new Float32Array(ds.x.length);
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) x[i * k + j] = ds.x[i * k + index[j]];
    out = { ...out, x, featureNames: [...want] };
  }
  if (ds.task === 'classification' && stored.classNames && ds.classNames && stored.classNames.join('\u0000') !== ds.classNames.join('\u0000')) {
    const map = ds.classNames.map((name) => {
      const i = stored.classNames!.indexOf(name);
      // The class is the file's text, so it is not printed; the checkpoint's own class names are.
      if (i < 0) throw new PushInputError(`--data ${show(specText)} has a class the checkpoint was not trained on: expected only ${stored.classNames!.map((c) => show(c)).join(', ')}`);
      return i;
    });
    out = { ...out, y: Float32Array.from(ds.y, (l) => map[l]), classNames: [...stored.classNames], numClasses: stored.classNames.length };
  }
  return out;
}

/** The checkpoint's columns, for errors: input names, then the target's. */
function storedColumns(stored: StoredData): string {
  const inputs = stored.featureNames ? `input columns ${stored.featureNames.map((n) => show(n)).join(', ')}` : 'input columns';
  return stored.targetName !== undefined ? `${inputs} and target column ${show(stored.targetName)}` : inputs;
}

function concat(a: Dataset, b: Dataset): Dataset {
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x);
  x.set(b.x, a.x.length);
  const y = new Float32Array(a.y.length + b.y.length);
  y.set(a.y);
  y.set(b.y, a.y.length);
  return { ...a, x, xShape: [a.xShape[0] + b.xShape[0], ...a.xShape.slice(1)], y, yShape: [a.yShape[0] + b.yShape[0], ...a.yShape.slice(1)] };
}

export interface PredictInputs {
  x: Float32Array;
  xShape: number[];
  /** Targets when the data has them (not for an inputs-only CSV). */
  y?: Float32Array;
  featureNames?: string[];
  description: string;
}

/**
 * Inputs to predict on. A csv: spec is read as a file of inputs (every row;
 * the columns the model was trained on, others such as the target ignored);
 * other specs give the chosen split of the generated data.
 */
export function loadPredictInputs(specText: string, stored: StoredData, which: SplitName | undefined): PredictInputs {
  const spec = parseDataSpecOption(specText);
  if (spec.kind === 'csv' && which === undefined) {
    const inputs = (require('../data/csv') as typeof Csv).loadCsvInputs(spec.path, stored.featureNames); // the CSV parser loads for csv: data only
    if (!stored.featureNames && inputs.featureNames.length === 0) {
      throw new PushInputError(`${spec.path}: has no columns, expected the model's input columns`);
    }
    return { x: inputs.x, xShape: inputs.xShape, featureNames: inputs.featureNames, description: `${spec.path}: ${inputs.xShape[0]} rows` };
  }
  const { chosen } = loadSplit(specText, stored, which ?? 'test');
  return {
    x: chosen.x,
    xShape: chosen.xShape,
    y: chosen.y,
    featureNames: chosen.featureNames,
    description: `${specText} (${which ?? 'test'} split): ${chosen.xShape[0]} examples`,
  };
}

export function checkBatchSize(batchSize: number, train: Dataset, explicit: boolean): number {
  const n = train.xShape[0];
  if (batchSize > n) {
    if (!explicit) return n;
    throw new PushInputError(`--batch-size ${batchSize}: expected at most ${n}, the number of training examples in ${show(train.name)}`);
  }
  return batchSize;
}

export function inputShapeOf(ds: Dataset): number[] {
  return ds.xShape.length > 1 ? ds.xShape.slice(1) : [1];
}

export { featureSize };
