// Fashion-MNIST (Xiao et al. 2017) from its IDX files: 60,000 training and
// 10,000 test 28×28 grey images of 10 kinds of clothing. Debian's
// dataset-fashion-mnist package installs them under
// /usr/share/datasets/fashion-mnist/; PUSH_ENS_FASHION_MNIST names another
// directory holding the same four files (gzipped or not).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PushInputError } from '../util/errors';
import { DataSplit, Dataset } from './dataset';
import { idxImagesToInputs, idxLabels, readIdxFile } from './idx';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_ENV = 'PUSH_ENS_FASHION_MNIST';
export const FASHION_MNIST_TRAIN_AVAILABLE = 60000;
export const FASHION_MNIST_TEST_AVAILABLE = 10000;
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const INSTALL_HINT = 'install it with `apt-get install dataset-fashion-mnist`';

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

interface Part {
  x: Float32Array;
  y: Float32Array;
  n: number;
}

// Inflating and decoding the 60,000 training images takes ~0.5 s: reuse them while memory allows.
const cache = new Map<string, WeakRef<{ train: Part; test: Part }>>();

/** The directory holding the files: $PUSH_ENS_FASHION_MNIST if set, else Debian's. */
export function fashionMnistDir(env: NodeJS.ProcessEnv = process.env): { dir: string; fromEnv: boolean } {
  const fromEnv = env[FASHION_MNIST_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? { dir: fromEnv, fromEnv: true } : { dir: FASHION_MNIST_DIR, fromEnv: false };
}

/** The file `base` or `base.gz` in `dir`, or a one-line error saying how to get it. */
function locate(dir: string, fromEnv: boolean, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  const where = fromEnv ? `${dir} (from ${FASHION_MNIST_ENV})` : dir;
  throw new PushInputError(`fashion-mnist: ${base}[.gz] is not in ${where}: ${INSTALL_HINT}, or set ${FASHION_MNIST_ENV} to a directory holding the four IDX files`);
}

function readPart(dir: string, fromEnv: boolean, images: string, labels: string): Part {
  const imagesFile = locate(dir, fromEnv, images);
  const labelsFile = locate(dir, fromEnv, labels);
  const img = readIdxFile(imagesFile);
  if (img.type !== 'uint8' || img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28) {
    throw new PushInputError(`${imagesFile} holds ${img.type} values of sizes ${img.dims.join('x')}: expected uint8 images Nx28x28`);
  }
  const { x } = idxImagesToInputs(img, imagesFile);
  const n = img.dims[0];
  const { y, numClasses } = idxLabels(readIdxFile(labelsFile), n, labelsFile);
  if (numClasses > FASHION_MNIST_CLASSES.length) {
    throw new PushInputError(`${labelsFile} has label ${numClasses - 1}: expected Fashion-MNIST's classes 0..9`);
  }
  return { x, y, n };
}

function readAll(): { train: Part; test: Part } {
  const { dir, fromEnv } = fashionMnistDir();
  const cached = cache.get(dir)?.deref();
  if (cached) return cached;
  const all = {
    train: readPart(dir, fromEnv, FILES.trainImages, FILES.trainLabels),
    test: readPart(dir, fromEnv, FILES.testImages, FILES.testLabels),
  };
  cache.set(dir, new WeakRef(all));
  return all;
}

function take(part: Part, count: number, name: string): Dataset {
  return {
    name,
    task: 'classification',
    x: part.x.slice(0, count * 784),
    xShape: [count, 28, 28, 1],
    y: part.y.slice(0, count),
    yShape: [count],
    numClasses: FASHION_MNIST_CLASSES.length,
    classNames: [...FASHION_MNIST_CLASSES],
    targetName: 'item',
  };
}

/**
 * The first `train` images of the training file and the first `test` of the test file
 * (the files are already in random order), x [N, 28, 28, 1] in [0, 1], 10 classes.
 * `train` 0 gives an empty training set (for an OOD set that uses the test split only).
 */
export function loadFashionMnist(train: number, test: number, name = `fashion-mnist:${train},${test}`): DataSplit {
  const all = readAll();
  if (train > all.train.n) throw new PushInputError(`${name}: TRAIN is ${train}, but the training file holds ${all.train.n} images`);
  if (test > all.test.n) throw new PushInputError(`${name}: TEST is ${test}, but the test file holds ${all.test.n} images`);
  const split: DataSplit = { train: take(all.train, train, name) };
  if (test > 0) split.test = take(all.test, test, name);
  return split;
}
