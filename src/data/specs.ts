// Data specs: the short strings the CLI and library accept to name a dataset
// ("toy", "two-moons:1024", "csv:houses.csv:price"), parsed and loaded.

import { PushInputError } from '../util/errors';
import { deriveSeed } from '../util/rng';
import { DataSplit, Dataset, Task } from './dataset';
import type * as Csv from './csv';
import { MNIST_AVAILABLE, loadMnist } from './mnist';
import { FASHION_MNIST_TEST_AVAILABLE, FASHION_MNIST_TRAIN_AVAILABLE, loadFashionMnist } from './fashion-mnist';
import { loadIdxDataset } from './idx';
import { SHIFT_FORMS, Shift, applyShifts, splitShifts } from './shift';
import { applyNormalization, fitNormalization } from './normalization';
import { checkTestFraction, splitTrainTest } from './split';
import { makeSeedRandom, makeSine, makeToy, makeTwoMoons } from './synthetic';
import { validateDataset } from './validate';

export type DataSpec =
  | { kind: 'seed-random'; text: string; dim: number }
  | { kind: 'toy'; text: string }
  | { kind: 'sine'; text: string }
  | { kind: 'two-moons'; text: string; n: number }
  | { kind: 'mnist'; text: string; train: number; test: number; shifts?: Shift[] }
  | { kind: 'fashion-mnist'; text: string; train: number; test: number; shifts?: Shift[] }
  | { kind: 'idx'; text: string; images: string; labels?: string; shifts?: Shift[] }
  | { kind: 'csv'; text: string; path: string; target?: string };

/** Specs of images, which take "+rotate:DEG", "+noise:SIGMA" and "+blank" shifts. */
export type ImageDataSpec = Extract<DataSpec, { kind: 'mnist' | 'fashion-mnist' | 'idx' }>;

export const DEFAULT_SEED_RANDOM_DIM = 20;
export const DEFAULT_TWO_MOONS_SIZE = 512;
export const DEFAULT_MNIST_TRAIN = 8000;
export const DEFAULT_MNIST_TEST = 2000;
export const DEFAULT_TEST_FRACTION = 0.2;
const MAX_SEED_RANDOM_DIM = 10000;
const MAX_TWO_MOONS_SIZE = 10_000_000;

const VALID_FORMS =
  'seed-random[:D], toy, sine, two-moons[:N], mnist[:TRAIN,TEST], fashion-mnist[:TRAIN,TEST], idx:IMAGES[,LABELS], csv:PATH[:TARGET]';

/** Help text for the CLI: one line per form. */
export function describeDataSpecs(): string {
  return [
    'Data specs:',
    `  seed-random[:D]       1280 random inputs of size D (default ${DEFAULT_SEED_RANDOM_DIM}) ~ N(0,1), random targets ~ N(0,1): nothing to learn, a speed check`,
    '  toy                   128 points, x ~ U(-0.5, 1), y = 0.5 sin(4x) + x + N(0, 0.05^2): 1-D regression',
    '  sine                  256 points, x ~ U(-3, 3), y = sin(x) + N(0, 0.1^2): 1-D regression',
    `  two-moons[:N]         N points (default ${DEFAULT_TWO_MOONS_SIZE}) of two interleaved half circles, noise 0.1: 2 classes`,
    `  mnist[:TRAIN,TEST]    28x28 digits from the mnist package, TRAIN+TEST <= ${MNIST_AVAILABLE} (default ${DEFAULT_MNIST_TRAIN},${DEFAULT_MNIST_TEST}): 10 classes`,
    `  fashion-mnist[:TRAIN,TEST]  28x28 clothes, the first TRAIN of its ${FASHION_MNIST_TRAIN_AVAILABLE} training and TEST of its ${FASHION_MNIST_TEST_AVAILABLE} test images`,
    '                        (default all): 10 classes; from /usr/share/datasets/fashion-mnist or $PUSH_ENS_FASHION_MNIST',
    '  idx:IMAGES[,LABELS]   IDX files (MNIST format, gzipped or not); without LABELS every label is 0',
    '  csv:PATH[:TARGET]     a CSV file with a header row; TARGET names the target column (default the last);',
    '                        with task classification the target holds integer or text labels',
    `All but mnist and fashion-mnist hold out a seeded test fraction (default ${DEFAULT_TEST_FRACTION}).`,
    'Image specs (mnist, fashion-mnist, idx) take shifts, applied in order:',
    '  +rotate:DEG (counter-clockwise), +noise:SIGMA (seeded Gaussian, clipped to the data range),',
    '  +blank (all 0); e.g. mnist:0,2000+rotate:45 (TRAIN 0: an OOD set of 2000 rotated test digits)',
  ].join('\n');
}

export function parseDataSpec(spec: string): DataSpec {
  const text = spec.trim();
  const parsed = parseBaseSpec(spec, text.startsWith('csv:') ? text : splitShifts(text).base);
  if (parsed.kind === 'csv' || parsed.text === text) return parsed;
  if (!isImageSpec(parsed)) throw specError(text, `shifts (${SHIFT_FORMS}) apply to image specs (mnist, fashion-mnist, idx), not ${parsed.kind}`);
  return { ...parsed, text, shifts: splitShifts(text).shifts };
}

export function isImageSpec(spec: DataSpec): spec is ImageDataSpec {
  return spec.kind === 'mnist' || spec.kind === 'fashion-mnist' || spec.kind === 'idx';
}

/** The files a spec reads from paths it names (idx images and labels, a CSV), for checks on stored specs. */
export function dataSpecFiles(spec: DataSpec): string[] {
  if (spec.kind === 'csv') return [spec.path];
  if (spec.kind === 'idx') return spec.labels === undefined ? [spec.images] : [spec.images, spec.labels];
  return [];
}

function parseBaseSpec(spec: string, text: string): DataSpec {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const param = colon < 0 ? undefined : text.slice(colon + 1);
  switch (kind) {
    case 'seed-random':
      return { kind, text, dim: param === undefined ? DEFAULT_SEED_RANDOM_DIM : parseCount(text, 'D', param, MAX_SEED_RANDOM_DIM) };
    case 'toy':
    case 'sine':
      if (param !== undefined) throw specError(text, `${kind} takes no parameters`);
      return { kind, text };
    case 'two-moons':
      return { kind, text, n: param === undefined ? DEFAULT_TWO_MOONS_SIZE : parseCount(text, 'N', param, MAX_TWO_MOONS_SIZE, 2) };
    case 'mnist':
      return { kind, text, ...parseMnistSizes(text, param) };
    case 'fashion-mnist':
      return { kind, text, ...parseFashionSizes(text, param) };
    case 'idx':
      return { kind, text, ...parseIdxParam(text, param) };
    case 'csv':
      return { kind, text, ...parseCsvParam(text, param) };
    default:
      throw new PushInputError(`unknown data spec ${JSON.stringify(spec)}: expected one of ${VALID_FORMS}`);
  }
}

function specError(text: string, problem: string): PushInputError {
  return new PushInputError(`data spec ${JSON.stringify(text)}: ${problem}; valid forms: ${VALID_FORMS}`);
}

function parseCount(text: string, what: string, param: string, max: number, min = 1): number {
  const value = /^\d+$/.test(param) ? Number(param) : NaN;
  if (!(value >= min && value <= max)) {
    throw specError(text, `${what} is ${JSON.stringify(param)}, expected an integer in [${min}, ${max}]`);
  }
  return value;
}

function parseMnistSizes(text: string, param: string | undefined): { train: number; test: number } {
  if (param === undefined) return { train: DEFAULT_MNIST_TRAIN, test: DEFAULT_MNIST_TEST };
  const parts = param.split(',');
  if (parts.length !== 2) throw specError(text, `expected mnist:TRAIN,TEST with two counts, got ${JSON.stringify(param)}`);
  // TRAIN may be 0 for a data set used only through its test split (an OOD set, say).
  const train = parseCount(text, 'TRAIN', parts[0].trim(), MNIST_AVAILABLE, 0);
  const test = parseCount(text, 'TEST', parts[1].trim(), MNIST_AVAILABLE, 0);
  if (train + test > MNIST_AVAILABLE) {
    throw specError(text, `TRAIN+TEST is ${train + test}, expected at most ${MNIST_AVAILABLE} (the digits in the mnist package)`);
  }
  return { train, test };
}

function parseFashionSizes(text: string, param: string | undefined): { train: number; test: number } {
  if (param === undefined) return { train: FASHION_MNIST_TRAIN_AVAILABLE, test: FASHION_MNIST_TEST_AVAILABLE };
  const parts = param.split(',');
  if (parts.length !== 2) throw specError(text, `expected fashion-mnist:TRAIN,TEST with two counts, got ${JSON.stringify(param)}`);
  return {
    train: parseCount(text, 'TRAIN', parts[0].trim(), FASHION_MNIST_TRAIN_AVAILABLE, 0),
    test: parseCount(text, 'TEST', parts[1].trim(), FASHION_MNIST_TEST_AVAILABLE, 0),
  };
}

/** idx:IMAGES[,LABELS]; the last ',' starts LABELS (so IMAGES may hold commas, LABELS not). */
function parseIdxParam(text: string, param: string | undefined): { images: string; labels?: string } {
  if (param === undefined || param.trim() === '') throw specError(text, 'idx needs an IDX images file');
  const comma = param.lastIndexOf(',');
  if (comma < 0) return { images: param };
  const images = param.slice(0, comma);
  const labels = param.slice(comma + 1);
  if (images.trim() === '' || labels.trim() === '') throw specError(text, 'expected idx:IMAGES,LABELS with two file paths');
  return { images, labels };
}

/**
 * csv:PATH[:TARGET]. The last ':' starts TARGET unless what follows it holds
 * a path separator, so "csv:C:\data\a.csv" is a path without a target.
 */
function parseCsvParam(text: string, param: string | undefined): { path: string; target?: string } {
  if (param === undefined || param === '') throw specError(text, 'csv needs a file path');
  const last = param.lastIndexOf(':');
  const tail = last < 0 ? '' : param.slice(last + 1);
  if (last <= 0 || /[\\/]/.test(tail)) return { path: param };
  if (tail.trim() === '') throw specError(text, 'the target column name after the last ":" is empty');
  return { path: param.slice(0, last), target: tail };
}

export interface LoadDatasetOptions {
  /** Seeds generated data and the train/test split. */
  seed: number;
  /** Only csv specs take either task; other specs must get their own task or none. */
  task?: Task;
  /** Fraction held out for testing, in [0, 1); default 0.2. Ignored by mnist and fashion-mnist, which have their own splits. */
  testFraction?: number;
  /** Standardize inputs per feature and regression targets, with train statistics. */
  standardize?: boolean;
}

// Stream ids for deriveSeed, so generation and splitting draw independent numbers.
const DATA_STREAM = 0x64617461; // "data"
const SPLIT_STREAM = 0x73706c74; // "splt"

/** Parse (if needed), load or generate, validate, split and optionally standardize. */
export function loadDataset(spec: string | DataSpec, options: LoadDatasetOptions): DataSplit {
  const parsed = typeof spec === 'string' ? parseDataSpec(spec) : spec;
  if (options.task !== undefined && options.task !== 'regression' && options.task !== 'classification') {
    throw new PushInputError(`task ${JSON.stringify(options.task)}: expected "regression" or "classification"`);
  }
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  checkTestFraction(testFraction);
  const seed = options.seed >>> 0;
  let split: DataSplit;
  if (parsed.kind === 'mnist' || parsed.kind === 'fashion-mnist') {
    checkTask(parsed, 'classification', options.task);
    split = parsed.kind === 'mnist' ? loadMnist(parsed.train, parsed.test, parsed.text) : loadFashionMnist(parsed.train, parsed.test, parsed.text);
  } else {
    const whole = buildDataset(parsed, deriveSeed(seed, DATA_STREAM), options.task);
    validateDataset(whole);
    split = splitTrainTest(whole, testFraction, deriveSeed(seed, SPLIT_STREAM));
  }
  if (isImageSpec(parsed) && parsed.shifts) split = shiftSplit(split, parsed.shifts, seed);
  // An image spec with TRAIN 0 has an empty training set (training on it fails in the trainer).
  if (split.train.xShape[0] > 0 || !isImageSpec(parsed)) validateDataset(split.train);
  if (split.test) validateDataset(split.test);
  return options.standardize ? standardizeSplit(split) : split;
}

function shiftSplit(split: DataSplit, shifts: Shift[], seed: number): DataSplit {
  const shifted: DataSplit = { ...split, train: applyShifts(split.train, shifts, seed, 0) };
  if (split.test) shifted.test = applyShifts(split.test, shifts, seed, 1);
  return shifted;
}

function buildDataset(spec: Exclude<DataSpec, { kind: 'mnist' | 'fashion-mnist' }>, seed: number, task: Task | undefined): Dataset {
  switch (spec.kind) {
    case 'seed-random':
      checkTask(spec, 'regression', task);
      return makeSeedRandom(spec.dim, seed, spec.text);
    case 'toy':
      checkTask(spec, 'regression', task);
      return makeToy(seed, spec.text);
    case 'sine':
      checkTask(spec, 'regression', task);
      return makeSine(seed, spec.text);
    case 'two-moons':
      checkTask(spec, 'classification', task);
      return makeTwoMoons(spec.n, seed, spec.text);
    case 'idx':
      checkTask(spec, 'classification', task);
      return loadIdxDataset(spec.images, spec.labels, spec.text);
    case 'csv':
      // Loaded here: the CSV parser is only for csv: specs.
      return (require('./csv') as typeof Csv).loadCsvDataset(spec.path, { target: spec.target, task, name: spec.text });
  }
}

function checkTask(spec: DataSpec, natural: Task, asked: Task | undefined): void {
  if (asked !== undefined && asked !== natural) {
    throw new PushInputError(
      `task ${asked} does not fit data spec ${JSON.stringify(spec.text)}, which is ${natural}: expected task ${natural} (only csv: specs take either)`,
    );
  }
}

export function standardizeSplit(split: DataSplit): DataSplit {
  if (split.train.xShape[0] === 0) throw new PushInputError(`data spec ${JSON.stringify(split.train.name)} has no training examples to standardize with: expected TRAIN >= 1`);
  const normalization = fitNormalization(split.train);
  const standardized: DataSplit = { train: applyNormalization(split.train, normalization), normalization };
  if (split.test) standardized.test = applyNormalization(split.test, normalization);
  return standardized;
}
