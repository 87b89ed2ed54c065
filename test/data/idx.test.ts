// IDX files, Fashion-MNIST from Debian's package, and shifted image specs, on real files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { MAX_IDX_VALUES, loadIdxDataset, parseIdx, readIdxFile } from '../../src/data/idx';
import { FASHION_MNIST_DIR, FASHION_MNIST_ENV } from '../../src/data/fashion-mnist';
import { addNoise, rotateImages } from '../../src/data/shift';
import { loadDataset } from '../../src/data/specs';
import { dataSpecFile } from '../../src/cli/stored-paths';
import { Rng } from '../../src/util/rng';
import { TempDir, inputErrorMessage } from './temp-files';

/** An IDX file's bytes: magic 00 00 type ndims, big-endian sizes, then `body`. */
function idxBytes(type: number, dims: number[], body: Buffer): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, body]);
}

/** Bitwise equality of float arrays (jest's toEqual is slow on millions of elements). */
function sameFloats(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

const tmp = new TempDir();
afterAll(() => tmp.remove());

function writeBin(name: string, bytes: Buffer): string {
  const file = path.join(tmp.dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe('IDX files', () => {
  // Three 2x3 images with values 0..17 and labels 2, 0, 1.
  const pixels = Buffer.from(Array.from({ length: 18 }, (_, i) => i * 15));
  const images = idxBytes(0x08, [3, 2, 3], pixels);
  const labels = idxBytes(0x08, [3], Buffer.from([2, 0, 1]));

  test('plain and gzipped files decode to the same values, uint8 scaled to [0, 1]', () => {
    const plain = loadIdxDataset(writeBin('im.idx', images), writeBin('lab.idx', labels), 'idx:test');
    const gz = loadIdxDataset(writeBin('im.idx.gz', zlib.gzipSync(images)), writeBin('lab.idx.gz', zlib.gzipSync(labels)), 'idx:test');
    expect(plain.xShape).toEqual([3, 2, 3, 1]);
    expect(plain.x[17]).toBeCloseTo(255 / 255, 6);
    expect(plain.x[1]).toBeCloseTo(15 / 255, 6);
    expect(Array.from(plain.y)).toEqual([2, 0, 1]);
    expect(plain.numClasses).toBe(3);
    expect(gz.x).toEqual(plain.x);
    expect(gz.y).toEqual(plain.y);
  });

  test('big-endian int16, int32 and float32 values are read in host order', () => {
    const i16 = Buffer.alloc(4);
    i16.writeInt16BE(-2, 0);
    i16.writeInt16BE(300, 2);
    expect(Array.from(parseIdx(idxBytes(0x0b, [2], i16), 'a').data)).toEqual([-2, 300]);
    const f32 = Buffer.alloc(8);
    f32.writeFloatBE(1.5, 0);
    f32.writeFloatBE(-0.25, 4);
    expect(Array.from(parseIdx(idxBytes(0x0d, [1, 2], f32), 'b').data)).toEqual([1.5, -0.25]);
    const i32 = Buffer.alloc(4);
    i32.writeInt32BE(70000, 0);
    expect(parseIdx(idxBytes(0x0c, [1], i32), 'c')).toEqual({ type: 'int32', dims: [1], data: new Int32Array([70000]) });
  });

  test('idx:IMAGES,LABELS is a data spec with a seeded test split; without LABELS every label is 0', () => {
    const im = writeBin('spec-im.gz', zlib.gzipSync(images));
    const lab = writeBin('spec-lab', labels);
    const split = loadDataset(`idx:${im},${lab}`, { seed: 3, testFraction: 0.34 });
    expect(split.train.xShape).toEqual([2, 2, 3, 1]);
    expect(split.test!.xShape).toEqual([1, 2, 3, 1]);
    const unlabelled = loadDataset(`idx:${im}`, { seed: 3, testFraction: 0 });
    expect(Array.from(unlabelled.train.y)).toEqual([0, 0, 0]);
    expect(unlabelled.train.numClasses).toBe(1);
    // A checkpoint's stored idx spec names a file: it is never opened on the checkpoint's word.
    expect(dataSpecFile(`idx:${im},${lab}+rotate:10`)).toBe(im);
  });

  const bad: Array<[string, () => Buffer | string, RegExp]> = [
    ['wrong magic', () => Buffer.from('PK\u0003\u0004 a zip, not IDX'), /starts with bytes 50 4b 03 04: expected an IDX magic number/],
    ['an unknown type code', () => idxBytes(0x07, [1], Buffer.from([1])), /starts with bytes 00 00 07 01/],
    ['no dimensions', () => idxBytes(0x08, [], Buffer.alloc(0)), /has 0 dimensions: expected 1 to 4/],
    ['a zero dimension', () => idxBytes(0x08, [3, 0], Buffer.alloc(0)), /dimension 1 is 0, expected at least 1/],
    ['a truncated header', () => idxBytes(0x08, [3, 28, 28], Buffer.alloc(0)).subarray(0, 10), /is truncated: 10 bytes, expected at least 16/],
    ['truncated values', () => idxBytes(0x08, [3, 28, 28], Buffer.alloc(100)), /is truncated: 116 bytes, expected 2368 for uint8 values of sizes 3x28x28/],
    ['trailing bytes', () => idxBytes(0x08, [2], Buffer.alloc(5)), /has trailing bytes: 13 bytes, expected 10/],
    ['oversized dims', () => idxBytes(0x08, [4294967295, 4294967295, 28], Buffer.alloc(16)), new RegExp(`hold more than ${MAX_IDX_VALUES} values`)],
    ['a truncated gzip stream', () => zlib.gzipSync(idxBytes(0x08, [100], Buffer.alloc(100))).subarray(0, 20), /is not a valid gzip stream/],
    // 300 gzip members of 1 MiB of zeros each: a 300 KB file that inflates to 300 MiB.
    ['a gzip bomb', () => Buffer.concat(new Array(300).fill(zlib.gzipSync(Buffer.alloc(1024 * 1024)))), /inflates to more than 268435456 bytes/],
  ];
  test.each(bad)('%s is a one-line error naming the file', (name, make, problem) => {
    const file = writeBin(`bad-${name.replace(/\W+/g, '-')}`, make() as Buffer);
    const msg = inputErrorMessage(() => readIdxFile(file));
    expect(msg).toMatch(problem);
    expect(msg).toContain(file);
    expect(msg).not.toContain('\n');
  });

  test('a symlink to /dev/zero, a directory and a missing file are refused without reading', () => {
    const zero = path.join(tmp.dir, 'zero.idx');
    fs.symlinkSync('/dev/zero', zero);
    expect(inputErrorMessage(() => readIdxFile(zero))).toMatch(/is a device: expected a regular file/);
    expect(inputErrorMessage(() => readIdxFile(zero, { followSymlinks: false }))).toMatch(/is a symlink/);
    expect(inputErrorMessage(() => readIdxFile(tmp.dir))).toMatch(/directory: expected a regular file/);
    expect(inputErrorMessage(() => readIdxFile(path.join(tmp.dir, 'nope.idx')))).toMatch(/does not exist/);
    expect(inputErrorMessage(() => loadDataset(`idx:${zero}`, { seed: 1 }))).toMatch(/zero\.idx is a device/);
  });

  test('labels must be 1-D integers, one per image', () => {
    const im = writeBin('lab-im', images);
    const cases: Array<[Buffer, RegExp]> = [
      [idxBytes(0x08, [2], Buffer.from([0, 1])), /holds 2 labels: expected 3, one per image/],
      [idxBytes(0x08, [3, 1], Buffer.from([0, 1, 2])), /has sizes 3x1: expected one label per image, \[3\]/],
      [idxBytes(0x0d, [3], Buffer.alloc(12)), /holds float32 values: expected integer class labels/],
      [idxBytes(0x09, [3], Buffer.from([0, 0xff, 1])), /label 1 is -1, expected a class index/],
    ];
    for (const [bytes, problem] of cases) {
      expect(inputErrorMessage(() => loadIdxDataset(im, writeBin('lab-bad', bytes), 'idx'))).toMatch(problem);
    }
    expect(inputErrorMessage(() => loadIdxDataset(writeBin('one-d', idxBytes(0x08, [3], Buffer.alloc(3))), undefined, 'idx'))).toMatch(
      /has sizes 3: expected images \[N, H, W\]/,
    );
  });
});

describe('fashion-mnist', () => {
  const haveFiles = fs.existsSync(path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'));

  (haveFiles ? test : test.skip)('reads the real files from Debian\'s package: 28x28 images in [0, 1], 10 balanced classes', () => {
    const split = loadDataset('fashion-mnist:1000,2000', { seed: 5 });
    expect(split.train.xShape).toEqual([1000, 28, 28, 1]);
    expect(split.test!.xShape).toEqual([2000, 28, 28, 1]);
    expect(split.train.classNames![9]).toBe('Ankle boot');
    let min = Infinity;
    let max = -Infinity;
    for (const v of split.test!.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect([min, max]).toEqual([0, 1]);
    const counts = new Array(10).fill(0);
    for (const l of split.test!.y) counts[l]++;
    for (const c of counts) expect(c).toBeGreaterThan(150); // the test file holds 1,000 of each class, shuffled
    // The first test label of Fashion-MNIST is 9 (an ankle boot), the first training label 9 too.
    expect(split.test!.y[0]).toBe(9);
    expect(split.train.y[0]).toBe(9);
    // The full test file, and the same leading images whatever the counts and seed.
    const all = loadDataset('fashion-mnist:1,10000', { seed: 9 });
    expect(all.test!.xShape[0]).toBe(10000);
    expect(sameFloats(all.test!.x.subarray(0, 2000 * 784), split.test!.x)).toBe(true);
    // TRAIN 0: an OOD set used through its test split.
    expect(loadDataset('fashion-mnist:0,10', { seed: 1 }).train.xShape).toEqual([0, 28, 28, 1]);
  });

  test('a missing directory is one line saying how to install the package', () => {
    const saved = process.env[FASHION_MNIST_ENV];
    process.env[FASHION_MNIST_ENV] = path.join(tmp.dir, 'no-such-dir');
    try {
      const msg = inputErrorMessage(() => loadDataset('fashion-mnist:10,10', { seed: 1 }));
      expect(msg).toMatch(/train-images-idx3-ubyte\[\.gz\] is not in .*no-such-dir \(from PUSH_ENS_FASHION_MNIST\): install it with `apt-get install dataset-fashion-mnist`/);
      expect(msg).not.toContain('\n');
    } finally {
      if (saved === undefined) delete process.env[FASHION_MNIST_ENV];
      else process.env[FASHION_MNIST_ENV] = saved;
    }
  });

  test('PUSH_ENS_FASHION_MNIST names a directory of the four files, plain or gzipped', () => {
    const dir = path.join(tmp.dir, 'fm');
    fs.mkdirSync(dir);
    const img = (n: number, v: number) => idxBytes(0x08, [n, 28, 28], Buffer.alloc(n * 784, v));
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), img(4, 51));
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), zlib.gzipSync(idxBytes(0x08, [4], Buffer.from([0, 1, 2, 3]))));
    fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte.gz'), zlib.gzipSync(img(2, 255)));
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idxBytes(0x08, [2], Buffer.from([9, 12])));
    const saved = process.env[FASHION_MNIST_ENV];
    process.env[FASHION_MNIST_ENV] = dir;
    try {
      expect(inputErrorMessage(() => loadDataset('fashion-mnist:4,2', { seed: 1 }))).toMatch(/has label 12: expected Fashion-MNIST's classes 0\.\.9/);
      fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idxBytes(0x08, [2], Buffer.from([9, 8])));
      fs.rmSync(path.join(dir, 't10k-images-idx3-ubyte.gz'));
      fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte.gz'), zlib.gzipSync(img(2, 255)));
      const split = loadDataset('fashion-mnist:3,2', { seed: 1 });
      expect(split.train.x[0]).toBeCloseTo(0.2, 6);
      expect(Array.from(split.test!.y)).toEqual([9, 8]);
      expect(inputErrorMessage(() => loadDataset('fashion-mnist:5,2', { seed: 1 }))).toMatch(/TRAIN is 5, but the training file holds 4 images/);
    } finally {
      if (saved === undefined) delete process.env[FASHION_MNIST_ENV];
      else process.env[FASHION_MNIST_ENV] = saved;
    }
  });
});

describe('shifted image specs', () => {
  test('rotate moves a pixel where a counter-clockwise turn puts it; multiples of 90 degrees are exact', () => {
    // 3x3 image, one lit pixel at row 0, column 2 (top right).
    const x = new Float32Array(9);
    x[2] = 1;
    const shape = [1, 3, 3, 1];
    // 90° counter-clockwise: top right goes to top left.
    expect(Array.from(rotateImages(x, shape, 90))).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(rotateImages(x, shape, -90))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(rotateImages(x, shape, 0)).toEqual(x);
    let y: Float32Array = x;
    for (let i = 0; i < 4; i++) y = rotateImages(y, shape, 90);
    expect(y).toEqual(x);
    // 45°: a uniform 7x7 image keeps its centre; its corners come from outside (distance 4.24 > 3.5), so are 0.
    const ones = new Float32Array(49).fill(1);
    const r = rotateImages(ones, [1, 7, 7, 1], 45);
    expect(r[24]).toBeCloseTo(1, 6);
    expect([r[0], r[6], r[42], r[48]]).toEqual([0, 0, 0, 0]);
    expect(r[3]).toBeCloseTo(1, 6); // top middle comes from inside
    expect(() => rotateImages(ones, [25, 1], 45)).toThrow(/rotate needs images \[N, H, W, C\]/);
  });

  test('noise is seeded and clipped to the data range', () => {
    const x = new Float32Array(1000).map((_, i) => (i % 2) * 1);
    const a = addNoise(x, 0.5, new Rng(7));
    expect(addNoise(x, 0.5, new Rng(7))).toEqual(a);
    expect(addNoise(x, 0.5, new Rng(8))).not.toEqual(a);
    expect(Math.min(...a)).toBe(0);
    expect(Math.max(...a)).toBe(1);
    const moved = a.filter((v, i) => v !== x[i]).length;
    expect(moved).toBeGreaterThan(300);
  });

  test('mnist:0,50+rotate:90 rotates the test digits; +noise and +blank compose in order', () => {
    const plain = loadDataset('mnist:0,50', { seed: 1 }).test!;
    const rotated = loadDataset('mnist:0,50+rotate:90', { seed: 1 });
    expect(rotated.train.xShape[0]).toBe(0);
    expect(rotated.test!.name).toBe('mnist:0,50+rotate:90');
    expect(sameFloats(rotated.test!.x, rotateImages(plain.x, plain.xShape, 90))).toBe(true);
    expect(sameFloats(rotated.test!.x, plain.x)).toBe(false);
    expect(rotated.test!.y).toEqual(plain.y);
    const blank = loadDataset('mnist:0,50+noise:0.2+blank', { seed: 1 }).test!;
    expect(blank.x.every((v) => v === 0)).toBe(true);
    // Noise on blank images: clipped to the unshifted digits' range [0, 1].
    const noisy = loadDataset('mnist:0,50+blank+noise:0.2', { seed: 1 }).test!;
    expect(Math.max(...noisy.x)).toBeGreaterThan(0.3);
    expect(Math.max(...noisy.x)).toBeLessThanOrEqual(1);
    expect(Math.min(...noisy.x)).toBe(0);
    const n1 = loadDataset('mnist:0,50+noise:0.2', { seed: 1 }).test!;
    expect(sameFloats(loadDataset('mnist:0,50+noise:0.2', { seed: 1 }).test!.x, n1.x)).toBe(true);
    expect(sameFloats(loadDataset('mnist:0,50+noise:0.2', { seed: 2 }).test!.x, n1.x)).toBe(false);
  });
});
