// The exported posterior's on-disk format, shared by the writer (push-ens
// export, in Node) and the reader (the page): posterior.json describes the
// model, the predictive settings and where each particle's arrays sit in one
// stacked little-endian weights file. Nothing here touches tfjs or the DOM.
//
// A page fetches these files from a server it does not control, so the
// manifest is validated field by field (one-line errors) before any array is
// read, and every array must lie inside the weights file.
import { PushInputError, describeValue } from '../util/errors';
import { validateSpec } from '../nn/spec';
import type { SequentialSpec } from '../nn/spec';
import type { Normalization } from '../data/dataset';

export const BROWSER_FORMAT = 'push-ens/browser-posterior';
/** 2: particles' arrays say how the page samples from them (sampling), not which algorithm made them. */
export const BROWSER_FORMAT_VERSION = 2;
export const MANIFEST_FILE = 'posterior.json';
export const WEIGHTS_FILE = 'weights.bin';
/** The manifest holds the demo's data points too (capped by the writer); anything far larger is not ours. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** 1 GiB: far beyond what a page should download, well inside what a typed array can hold. */
export const MAX_WEIGHTS_BYTES = 1024 * 1024 * 1024;

/**
 * How the page makes a particle's members from its arrays (an algorithm's exportPlan picks one):
 * - members: fixed weight vectors, `params` holding one or more stacked (ensemble, SVGD, the
 *   samples an SG-MCMC chain kept), each plus beta x a random `prior` network's output if any;
 * - swag: numSamples weight vectors drawn from SWAG moments with each particle's sample seed;
 * - dropout: numSamples passes of `params` with dropout on, pass s's masks seeded by
 *   deriveSeed(sample seed, s).
 */
export type SamplingKind = 'members' | 'swag' | 'dropout';
export const SAMPLING_KINDS: readonly SamplingKind[] = ['members', 'swag', 'dropout'];
export type WeightDtype = 'float16' | 'float32' | 'float64';
const DTYPE_BYTES: Record<WeightDtype, number> = { float16: 2, float32: 4, float64: 8 };

/** Which array of a particle an entry holds. SWAG moments stay float64: sqMean − mean² cancels. */
export type TensorName = 'params' | 'prior' | 'swagMean' | 'swagSqMean' | 'swagDeviations';
const TENSOR_NAMES: readonly TensorName[] = ['params', 'prior', 'swagMean', 'swagSqMean', 'swagDeviations'];
/** The arrays each sampling kind reads: every particle has the required ones, and no others. */
const KIND_ARRAYS: Record<SamplingKind, { required: readonly TensorName[]; optional: readonly TensorName[] }> = {
  members: { required: ['params'], optional: ['prior'] },
  swag: { required: ['swagMean', 'swagSqMean', 'swagDeviations'], optional: [] },
  dropout: { required: ['params'], optional: [] },
};

/** What the page needs beyond the arrays to sample members as Node does. */
export interface PredictiveSettings {
  /** swag, dropout: samples (passes) per particle. */
  numSamples?: number;
  /** swag: the covariance scale and the floor of the diagonal variance. */
  scale?: number;
  varClamp?: number;
  /** members: the random prior's scale (every particle then has a prior array). */
  priorBeta?: number;
  /** swag, dropout: each particle's sample seed, as Node's prediction plan gives its devices. */
  sampleSeeds?: number[];
}

/**
 * What an algorithm exports (its exportPlan, in Node): the sampling kind, each particle's
 * arrays by name (float64 arrays stay float64; float32 ones follow --float16) and the settings.
 */
export interface ExportPlan {
  sampling: SamplingKind;
  arrays: Partial<Record<TensorName, Float32Array | Float64Array>>[];
  predictive: PredictiveSettings;
}

export interface TensorEntry {
  particle: number;
  name: TensorName;
  dtype: WeightDtype;
  /** Byte offset in the weights file (a multiple of the dtype's size). */
  offset: number;
  /** Elements. */
  length: number;
}

/** What the demo page draws besides predictions. */
export type DemoKind = 'regression-1d' | 'classification-2d' | 'image' | 'generic';
export const DEMO_KINDS: readonly DemoKind[] = ['regression-1d', 'classification-2d', 'image', 'generic'];

export interface DemoData {
  kind: DemoKind;
  title: string;
  /** Axis labels: input names (and the target's for regression). */
  xLabels: string[];
  yLabel?: string;
  /** Plot range of each input, in original units. */
  ranges?: [number, number][];
  /** Data points in original units: rows of inputs, and the target (regression) or class index. */
  points?: { x: number[][]; y: number[]; split: ('train' | 'test')[] };
}

export interface BrowserManifest {
  format: typeof BROWSER_FORMAT;
  formatVersion: number;
  pushEnsVersion: string;
  /** The algorithm that trained the posterior (shown on the page; the page reads `sampling`). */
  algorithm: string;
  sampling: SamplingKind;
  task: 'regression' | 'classification';
  model: SequentialSpec;
  numParams: number;
  inputShape: number[];
  outputSize: number;
  gaussian: boolean;
  classNames?: string[];
  particleSeeds: number[];
  predictive: PredictiveSettings;
  normalization?: Normalization;
  /** The modes `push-ens predict` reports by default; the page's ?x= uses them unless ?modes= says otherwise. */
  defaultModes: string[];
  weights: { file: string; bytes: number; sha256: string; byteOrder: 'little'; storage: 'float32' | 'float16'; tensors: TensorEntry[] };
  demo: DemoData;
  source: { checkpoint: string; epoch: number };
}

// ------------------------------------------------------------------ float16

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of v, rounded to nearest even; beyond ±65504 it is ±Infinity. */
export function float16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: still right
  return h;
}

/** The number whose half-precision bits are h. */
export function float16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function toFloat16(a: Float32Array): Uint16Array {
  const out = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = float16Bits(a[i]);
  return out;
}

export function fromFloat16(a: Uint16Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = float16Value(a[i]);
  return out;
}

// ------------------------------------------------------------------ reading

/** Reads entry `e` of the weights file as float32 (float16 widened) or float64 (SWAG moments). */
export function readTensor(bytes: Uint8Array, e: TensorEntry): Float32Array | Float64Array {
  const size = DTYPE_BYTES[e.dtype];
  // A copy, aligned whatever the file's offsets: the caller owns the result.
  const raw = bytes.slice(e.offset, e.offset + e.length * size).buffer;
  if (e.dtype === 'float16') return fromFloat16(new Uint16Array(raw));
  return e.dtype === 'float32' ? new Float32Array(raw) : new Float64Array(raw);
}

/** True where typed arrays are little-endian (every browser and Node platform in practice). */
export function littleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

// ------------------------------------------------------------------ validation

const SAFE_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const isInt = (v: unknown, min = 0): v is number => Number.isInteger(v) && (v as number) >= min;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every(isFiniteNumber);

/**
 * The manifest of an export, checked: every field's type and range, a sequential model whose
 * inputs and outputs fit the task, and tensor entries that lie inside the weights file and
 * give each particle exactly the arrays its algorithm needs. `what` names the file in errors.
 * The parameter count is checked against the compiled model by the predictive core.
 */
export function validateManifest(raw: unknown, what = MANIFEST_FILE): BrowserManifest {
  const m = raw as Record<string, unknown>;
  const bad = (field: string, expected: string, value: unknown = m?.[field]) =>
    new PushInputError(`${what}: ${field} is ${describeValue(value)}: expected ${expected}`);
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new PushInputError(`${what}: expected a JSON object, got ${describeValue(raw)}`);
  if (m.format !== BROWSER_FORMAT) throw bad('format', `"${BROWSER_FORMAT}" (is this a push-ens export?)`);
  if (m.formatVersion !== BROWSER_FORMAT_VERSION) throw bad('formatVersion', `${BROWSER_FORMAT_VERSION}: this page reads version ${BROWSER_FORMAT_VERSION} exports`);
  if (typeof m.algorithm !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(m.algorithm)) throw bad('algorithm', 'an algorithm name');
  if (!SAMPLING_KINDS.includes(m.sampling as SamplingKind)) throw bad('sampling', SAMPLING_KINDS.join(', '));
  const sampling = m.sampling as SamplingKind;
  if (m.task !== 'regression' && m.task !== 'classification') throw bad('task', '"regression" or "classification"');
  let model: SequentialSpec;
  try {
    const spec = validateSpec(m.model);
    if (spec.format !== 'push-ens/sequential') throw new PushInputError('a tfjs-layers model');
    model = spec;
  } catch (err) {
    throw new PushInputError(`${what}: model is not a valid push-ens/sequential spec (${(err as Error).message})`);
  }
  for (const f of ['numParams', 'outputSize']) if (!isInt(m[f], 1)) throw bad(f, 'a whole number >= 1');
  if (!isNumberArray(m.inputShape) || JSON.stringify(m.inputShape) !== JSON.stringify(model.inputShape)) throw bad('inputShape', `the model's input shape ${describeValue(model.inputShape)}`);
  if (typeof m.gaussian !== 'boolean') throw bad('gaussian', 'true or false');
  if (m.gaussian && (m.task !== 'regression' || (m.outputSize as number) % 2 !== 0)) throw bad('gaussian', 'false unless a regression model outputs means and variances');
  if (m.classNames !== undefined && (!Array.isArray(m.classNames) || m.classNames.length !== m.outputSize || !m.classNames.every((c) => typeof c === 'string'))) {
    throw bad('classNames', `${m.outputSize} strings`);
  }
  if (!Array.isArray(m.particleSeeds) || m.particleSeeds.length < 1 || !m.particleSeeds.every((s) => isInt(s) && s <= 0xffffffff)) {
    throw bad('particleSeeds', 'one 32-bit seed per particle');
  }
  const P = m.particleSeeds.length;
  const predictive = m.predictive as BrowserManifest['predictive'];
  if (!predictive || typeof predictive !== 'object') throw bad('predictive', 'an object');
  const sampled = sampling !== 'members';
  if (sampled && !isInt(predictive.numSamples, 1)) throw bad('predictive.numSamples', 'a whole number >= 1', predictive.numSamples);
  if (sampled && !(Array.isArray(predictive.sampleSeeds) && predictive.sampleSeeds.length === P && predictive.sampleSeeds.every((s) => isInt(s) && s <= 0xffffffff))) {
    throw bad('predictive.sampleSeeds', 'one 32-bit seed per particle', predictive.sampleSeeds);
  }
  if (sampling === 'swag') {
    if (!isFiniteNumber(predictive.scale) || predictive.scale < 0) throw bad('predictive.scale', 'a number >= 0', predictive.scale);
    if (!isFiniteNumber(predictive.varClamp) || predictive.varClamp < 0) throw bad('predictive.varClamp', 'a number >= 0', predictive.varClamp);
  }
  if (predictive.priorBeta !== undefined && sampling !== 'members') throw bad('predictive.priorBeta', `absent: a random prior goes with "members" sampling, not "${sampling}"`, predictive.priorBeta);
  if (predictive.priorBeta !== undefined && (!isFiniteNumber(predictive.priorBeta) || predictive.priorBeta < 0)) throw bad('predictive.priorBeta', 'a number >= 0', predictive.priorBeta);
  const norm = m.normalization as Normalization | undefined;
  if (norm !== undefined) {
    const features = model.inputShape.reduce((a, b) => a * b, 1);
    const d = m.gaussian ? (m.outputSize as number) / 2 : (m.outputSize as number);
    const okX = isNumberArray(norm?.xMean) && isNumberArray(norm.xStd) && norm.xMean.length === features && norm.xStd.length === features && norm.xStd.every((s) => s > 0);
    const okY = norm?.yMean === undefined || (isNumberArray(norm.yMean) && isNumberArray(norm.yStd) && norm.yMean.length === d && norm.yStd!.length === d && norm.yStd!.every((s) => s > 0));
    if (!okX || !okY) throw bad('normalization', `per-feature means and positive stds (${features} inputs${m.task === 'regression' ? `, ${d} targets` : ''})`);
  }
  if (!Array.isArray(m.defaultModes) || !m.defaultModes.every((s) => typeof s === 'string')) throw bad('defaultModes', 'a list of mode names');
  const weights = validateWeights(m.weights, what, sampling, P, m.numParams as number, predictive.priorBeta !== undefined);
  const demo = validateDemo(m.demo, what);
  const source = m.source as BrowserManifest['source'];
  if (!source || typeof source.checkpoint !== 'string' || !isInt(source.epoch)) throw bad('source', '{checkpoint, epoch}');
  return { ...(m as unknown as BrowserManifest), model, weights, demo };
}

function validateWeights(raw: unknown, what: string, sampling: SamplingKind, P: number, n: number, withPrior: boolean): BrowserManifest['weights'] {
  const w = raw as BrowserManifest['weights'];
  const bad = (field: string, expected: string, value: unknown) => new PushInputError(`${what}: weights.${field} is ${describeValue(value)}: expected ${expected}`);
  if (!w || typeof w !== 'object') throw new PushInputError(`${what}: weights is ${describeValue(raw)}: expected an object`);
  if (typeof w.file !== 'string' || !SAFE_FILE.test(w.file)) throw bad('file', 'a plain file name next to the manifest (no slashes)', w.file);
  if (!isInt(w.bytes, 1) || w.bytes > MAX_WEIGHTS_BYTES) throw bad('bytes', `a size in [1, ${MAX_WEIGHTS_BYTES}]`, w.bytes);
  if (typeof w.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(w.sha256)) throw bad('sha256', '64 lowercase hex digits', w.sha256);
  if (w.byteOrder !== 'little') throw bad('byteOrder', '"little"', w.byteOrder);
  if (w.storage !== 'float32' && w.storage !== 'float16') throw bad('storage', '"float32" or "float16"', w.storage);
  if (!Array.isArray(w.tensors)) throw bad('tensors', 'a list of entries', w.tensors);
  const seen = new Set<string>();
  let membersPer: number | undefined;
  w.tensors.forEach((e, i) => {
    const where = `tensors[${i}]`;
    if (!e || typeof e !== 'object') throw bad(where, 'an entry {particle, name, dtype, offset, length}', e);
    if (!isInt(e.particle) || e.particle >= P) throw bad(`${where}.particle`, `a particle index in [0, ${P})`, e.particle);
    if (!TENSOR_NAMES.includes(e.name)) throw bad(`${where}.name`, TENSOR_NAMES.join(', '), e.name);
    if (!(e.dtype in DTYPE_BYTES)) throw bad(`${where}.dtype`, 'float16, float32 or float64', e.dtype);
    const size = DTYPE_BYTES[e.dtype];
    if (!isInt(e.offset) || e.offset % size !== 0) throw bad(`${where}.offset`, `a byte offset, a multiple of ${size}`, e.offset);
    if (!isInt(e.length)) throw bad(`${where}.length`, 'an element count', e.length);
    if (e.offset + e.length * size > w.bytes) throw bad(`${where}`, `an array inside the ${w.bytes}-byte weights file`, { offset: e.offset, length: e.length, dtype: e.dtype });
    const key = `${e.particle}/${e.name}`;
    if (seen.has(key)) throw bad(`${where}`, 'one entry per particle and array', key);
    seen.add(key);
    const moment = e.name === 'swagMean' || e.name === 'swagSqMean';
    if (moment && e.dtype !== 'float64') throw bad(`${where}.dtype`, 'float64 for SWAG moments', e.dtype);
    const { required, optional } = KIND_ARRAYS[sampling];
    if (!required.includes(e.name) && !optional.includes(e.name)) throw bad(`${where}.name`, `one of ${[...required, ...optional].join(', ')} ("${sampling}" sampling)`, e.name);
    // Several stacked members per particle: members sampling's params (an SG-MCMC chain's kept samples).
    const stacked = e.name === 'swagDeviations' || (e.name === 'params' && sampling === 'members');
    if (!stacked && e.length !== n) throw bad(`${where}.length`, `${n}, the model's parameter count`, e.length);
    if (stacked && e.length % n !== 0) throw bad(`${where}.length`, `a multiple of ${n} (vectors × parameters)`, e.length);
    if (e.name === 'params' && e.length === 0) throw bad(`${where}.length`, `at least ${n}, one weight vector`, e.length);
    if (e.name === 'params' && sampling === 'members') {
      if (membersPer === undefined) membersPer = e.length / n;
      else if (e.length / n !== membersPer) throw bad(`${where}.length`, `${membersPer * n}: every particle has the same number of members`, e.length);
    }
  });
  const need: TensorName[] = [...KIND_ARRAYS[sampling].required, ...(withPrior ? ['prior' as const] : [])];
  for (let p = 0; p < P; p++) {
    for (const name of need) if (!seen.has(`${p}/${name}`)) throw new PushInputError(`${what}: weights.tensors has no ${name} for particle ${p}: expected one for every particle ("${sampling}" sampling)`);
  }
  return w;
}

function validateDemo(raw: unknown, what: string): DemoData {
  const d = raw as DemoData;
  const bad = (field: string, expected: string, value: unknown) => new PushInputError(`${what}: demo.${field} is ${describeValue(value)}: expected ${expected}`);
  if (!d || typeof d !== 'object') throw new PushInputError(`${what}: demo is ${describeValue(raw)}: expected an object`);
  if (!DEMO_KINDS.includes(d.kind)) throw bad('kind', DEMO_KINDS.join(', '), d.kind);
  if (typeof d.title !== 'string') throw bad('title', 'a string', d.title);
  if (!Array.isArray(d.xLabels) || !d.xLabels.every((s) => typeof s === 'string')) throw bad('xLabels', 'a list of strings', d.xLabels);
  if (d.yLabel !== undefined && typeof d.yLabel !== 'string') throw bad('yLabel', 'a string', d.yLabel);
  if (d.ranges !== undefined && (!Array.isArray(d.ranges) || !d.ranges.every((r) => isNumberArray(r) && r.length === 2 && r[0] < r[1]))) throw bad('ranges', 'a list of [lo, hi] with lo < hi', d.ranges);
  if (d.points !== undefined) {
    const p = d.points;
    const ok = p && Array.isArray(p.x) && p.x.every(isNumberArray) && isNumberArray(p.y) && Array.isArray(p.split) && p.y.length === p.x.length && p.split.length === p.x.length;
    if (!ok) throw bad('points', '{x: rows, y: one value per row, split: "train" or "test" per row}', '...');
  }
  return d;
}

/** Element count of each input example. */
export function inputSize(m: Pick<BrowserManifest, 'inputShape'>): number {
  return m.inputShape.reduce((a, b) => a * b, 1);
}
