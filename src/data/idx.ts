// IDX files (LeCun's MNIST format, also Fashion-MNIST), gzipped or not.
//
// Layout: two zero bytes, a type byte, a dimension count D, then D big-endian
// uint32 sizes, then the values, big-endian, row-major. Nothing in the header
// is taken on faith: the file is a bounded read of a regular file, a gzip
// stream is inflated with a cap on its output, and the sizes must multiply to
// exactly the number of value bytes that follow.

import type * as Zlib from 'node:zlib';
import { PushInputError } from '../util/errors';
import { readRegularFile } from '../util/safe-read';
import { Dataset } from './dataset';

export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxValues = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  type: IdxType;
  dims: number[];
  /** Values in host order, row-major. */
  data: IdxValues;
}

const TYPES: Record<number, { type: IdxType; bytes: number }> = {
  0x08: { type: 'uint8', bytes: 1 },
  0x09: { type: 'int8', bytes: 1 },
  0x0b: { type: 'int16', bytes: 2 },
  0x0c: { type: 'int32', bytes: 4 },
  0x0d: { type: 'float32', bytes: 4 },
  0x0e: { type: 'float64', bytes: 8 },
};

/** Largest file read, and largest inflated IDX payload: 256 MiB (MNIST's training images are 47 MB). */
export const MAX_IDX_BYTES = 256 * 1024 * 1024;
/** At most this many values: a Float32Array of them is 256 MiB. */
export const MAX_IDX_VALUES = 64 * 1024 * 1024;
export const MAX_IDX_DIMS = 4;
/** Labels above this are not class indices of any data set we read. */
export const MAX_IDX_CLASSES = 10000;

/** Decodes an IDX buffer (already inflated). `what` names the file in errors. */
export function parseIdx(buf: Uint8Array, what: string): IdxArray {
  if (buf.length < 4) throw new PushInputError(`${what} holds ${buf.length} bytes: expected an IDX file (a 4-byte magic number, then sizes and values)`);
  if (buf[0] !== 0 || buf[1] !== 0 || TYPES[buf[2]] === undefined) {
    const magic = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new PushInputError(`${what} starts with bytes ${magic}: expected an IDX magic number 00 00 TT DD (TT a type code 08, 09, 0b, 0c, 0d or 0e)`);
  }
  const { type, bytes } = TYPES[buf[2]];
  const ndims = buf[3];
  if (ndims < 1 || ndims > MAX_IDX_DIMS) throw new PushInputError(`${what} has ${ndims} dimensions: expected 1 to ${MAX_IDX_DIMS}`);
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) throw new PushInputError(`${what} is truncated: ${buf.length} bytes, expected at least ${headerBytes} for the header of ${ndims} dimensions`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d < 1) throw new PushInputError(`${what}: dimension ${i} is 0, expected at least 1`);
    count *= d; // exact: both factors stay far below 2^53 until the check below fails
    if (count > MAX_IDX_VALUES) throw new PushInputError(`${what}: sizes ${[...dims, d].join('x')}... hold more than ${MAX_IDX_VALUES} values, the most push-ens reads`);
    dims.push(d);
  }
  const expected = headerBytes + count * bytes;
  if (buf.length !== expected) {
    const problem = buf.length < expected ? 'is truncated' : 'has trailing bytes';
    throw new PushInputError(`${what} ${problem}: ${buf.length} bytes, expected ${expected} for ${type} values of sizes ${dims.join('x')}`);
  }
  return { type, dims, data: decodeValues(view, headerBytes, count, type) };
}

function decodeValues(view: DataView, offset: number, count: number, type: IdxType): IdxValues {
  switch (type) {
    case 'uint8':
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Inflates `buf` when it is gzip (magic 1f 8b), with the output capped at MAX_IDX_BYTES. */
export function inflateIfGzip(buf: Buffer, what: string): Buffer {
  if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return buf;
  try {
    // Loaded here: a run that reads no gzipped IDX file (train on anything else) need not load zlib.
    return (require('node:zlib') as typeof Zlib).gunzipSync(buf, { maxOutputLength: MAX_IDX_BYTES });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new PushInputError(`${what} inflates to more than ${MAX_IDX_BYTES} bytes: expected an IDX file of at most that size`);
    }
    throw new PushInputError(`${what} is not a valid gzip stream (${e.code ?? e.message}): expected a gzipped IDX file`);
  }
}

export interface ReadIdxOptions {
  /** Follow a final symlink: true for paths the user typed (default true). */
  followSymlinks?: boolean;
  /** Names the file in errors (default the path). */
  what?: string;
}

/** Reads and decodes an IDX file (plain or gzipped) of at most MAX_IDX_BYTES. */
export function readIdxFile(file: string, opts: ReadIdxOptions = {}): IdxArray {
  const what = opts.what ?? file;
  const raw = readRegularFile(file, { maxBytes: MAX_IDX_BYTES, followSymlinks: opts.followSymlinks ?? true, what });
  return parseIdx(inflateIfGzip(raw, what), what);
}

/**
 * Images as inputs: [N, H, W] becomes [N, H, W, 1], [N, H, W, C] stays, [N, D] is N vectors.
 * uint8 values are scaled to [0, 1] (divided by 255); other types are kept as they are.
 */
export function idxImagesToInputs(images: IdxArray, what: string): { x: Float32Array; xShape: number[] } {
  const { dims } = images;
  if (dims.length < 2) throw new PushInputError(`${what} has sizes ${dims.join('x')}: expected images [N, H, W] (or [N, H, W, C], or [N, D])`);
  const x = new Float32Array(images.data.length);
  const scale = images.type === 'uint8' ? 1 / 255 : 1;
  for (let i = 0; i < x.length; i++) x[i] = images.data[i] * scale;
  const isFloat = images.type === 'float32' || images.type === 'float64';
  for (let i = 0; isFloat && i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new PushInputError(`${what}: value ${i} is ${x[i]}, expected a finite number`);
  }
  return { x, xShape: dims.length === 3 ? [...dims, 1] : [...dims] };
}

/** Labels as class indices: a 1-D integer IDX array of `n` values in [0, MAX_IDX_CLASSES). */
export function idxLabels(labels: IdxArray, n: number, what: string): { y: Float32Array; numClasses: number } {
  if (labels.dims.length !== 1) throw new PushInputError(`${what} has sizes ${labels.dims.join('x')}: expected one label per image, [${n}]`);
  if (labels.type === 'float32' || labels.type === 'float64') throw new PushInputError(`${what} holds ${labels.type} values: expected integer class labels (uint8, int8, int16 or int32)`);
  if (labels.dims[0] !== n) throw new PushInputError(`${what} holds ${labels.dims[0]} labels: expected ${n}, one per image`);
  const y = new Float32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const l = labels.data[i];
    if (l < 0 || l >= MAX_IDX_CLASSES) throw new PushInputError(`${what}: label ${i} is ${l}, expected a class index in [0, ${MAX_IDX_CLASSES})`);
    y[i] = l;
    if (l > max) max = l;
  }
  return { y, numClasses: max + 1 };
}

/**
 * A classification data set from IDX images and, optionally, labels. Without labels
 * every example has label 0 of a single class (inputs for predict or an OOD set).
 */
export function loadIdxDataset(imagesFile: string, labelsFile: string | undefined, name: string): Dataset {
  const { x, xShape } = idxImagesToInputs(readIdxFile(imagesFile), imagesFile);
  const n = xShape[0];
  const { y, numClasses } = labelsFile === undefined ? { y: new Float32Array(n), numClasses: 1 } : idxLabels(readIdxFile(labelsFile), n, labelsFile);
  return { name, task: 'classification', x, xShape, y, yShape: [n], numClasses };
}
