// Data specs: the short strings the CLI and library accept to name a dataset
// ("toy", "two-moons:1024", "csv:houses.csv:price"), parsed and loaded.

import { PushInputError } from '../util/errors';
import { deriveSeed } from '../util/rng';
import { DataSplit, Dataset, Task } from './dataset';
import { loadCsvDataset } from './csv';
import { MNIST_AVAILABLE, loadMnist } from './mnist';
import { applyNormalization, fitNormalization } from './normalization';
import { checkTestFraction, splitTrainTest } from './split';
import { makeSeedRandom, makeSine, makeToy, makeTwoMoons } from './synthetic';
import { validateDataset } from './validate';

export type DataSpec =
  | { kind: 'seed-random'; text: string; dim: number }
  | { kind: 'toy'; text: string }
  | { kind: 'sine'; text: string }
  | { kind: 'two-moons'; text: string; n: number }
  | { kind: 'mnist'; text: string; train: number; test: number }
  | { kind: 'csv'; text: string; path: string; target?: string };

export const DEFAULT_SEED_RANDOM_DIM = 20;
export const DEFAULT_TWO_MOONS_SIZE = 512;
export const DEFAULT_MNIST_TRAIN = 8000;
export const DEFAULT_MNIST_TEST = 2000;
export const DEFAULT_TEST_FRACTION = 0.2;
const MAX_SEED_RANDOM_DIM = 10000;
const MAX_TWO_MOONS_SIZE = 10_000_000;

const VALID_FORMS = 'seed-random[:D], toy, sine, two-moons[:N], mnist[:TRAIN,TEST], csv:PATH[:TARGET]';

/** Help text for the CLI: one line per form. */
export function describeDataSpecs(): string {
  return [
    'Data specs:',
    `  seed-random[:D]       1280 random inputs of size D (default ${DEFAULT_SEED_RANDOM_DIM}) ~ N(0,1), random targets ~ N(0,1): nothing to learn, a speed check`,
    '  toy                   128 points, x ~ U(-0.5, 1), y = 0.5 sin(4x) + x + N(0, 0.05^2): 1-D regression',
    '  sine                  256 points, x ~ U(-3, 3), y = sin(x) + N(0, 0.1^2): 1-D regression',
    `  two-moons[:N]         N points (default ${DEFAULT_TWO_MOONS_SIZE}) of two interleaved half circles, noise 0.1: 2 classes`,
    `  mnist[:TRAIN,TEST]    28x28 digits from the mnist package, TRAIN+TEST <= ${MNIST_AVAILABLE} (default ${DEFAULT_MNIST_TRAIN},${DEFAULT_MNIST_TEST}): 10 classes`,
    '  csv:PATH[:TARGET]     a CSV file with a header row; TARGET names the target column (default the last);',
    '                        with task classification the target holds integer or text labels',
    `All but mnist hold out a seeded test fraction (default ${DEFAULT_TEST_FRACTION}).`,
  ].join('\n');
}

export function parseDataSpec(spec: string): DataSpec {
  const text = spec.trim();
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
  const train = parseCount(text, 'TRAIN', parts[0].trim(), MNIST_AVAILABLE);
  const test = parseCount(text, 'TEST', parts[1].trim(), MNIST_AVAILABLE, 0);
  if (train + test > MNIST_AVAILABLE) {
    throw specError(text, `TRAIN+TEST is ${train + test}, expected at most ${MNIST_AVAILABLE} (the digits in the mnist package)`);
  }
  return { train, test };
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
  /** Fraction held out for testing, in [0, 1); default 0.2. Ignored by mnist, which sets its own split. */
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
  if (parsed.kind === 'mnist') {
    checkTask(parsed, 'classification', options.task);
    split = loadMnist(parsed.train, parsed.test, parsed.text);
  } else {
    const whole = buildDataset(parsed, deriveSeed(seed, DATA_STREAM), options.task);
    validateDataset(whole);
    split = splitTrainTest(whole, testFraction, deriveSeed(seed, SPLIT_STREAM));
  }
  validateDataset(split.train);
  if (split.test) validateDataset(split.test);
  return options.standardize ? standardizeSplit(split) : split;
}

function buildDataset(spec: Exclude<DataSpec, { kind: 'mnist' }>, seed: number, task: Task | undefined): Dataset {
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
    case 'csv':
      return loadCsvDataset(spec.path, { target: spec.target, task, name: spec.text });
  }
}

function checkTask(spec: DataSpec, natural: Task, asked: Task | undefined): void {
  if (asked !== undefined && asked !== natural) {
    throw new PushInputError(
      `task ${asked} does not fit data spec ${JSON.stringify(spec.text)}, which is ${natural}: expected task ${natural} (only csv: specs take either)`,
    );
  }
}

function standardizeSplit(split: DataSplit): DataSplit {
  const normalization = fitNormalization(split.train);
  const standardized: DataSplit = { train: applyNormalization(split.train, normalization), normalization };
  if (split.test) standardized.test = applyNormalization(split.test, normalization);
  return standardized;
}
