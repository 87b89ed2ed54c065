// The values a message can carry, and how they are mapped onto msgpackr.
//
// Supported (each round-trips exactly, except where noted):
//   undefined, null, booleans, numbers (NaN, ±Infinity and -0 included),
//   well-formed strings, BigInts in [-2^63, 2^64 - 1], Dates, dense arrays,
//   plain objects (own enumerable string keys; a null prototype arrives as
//   Object.prototype), Maps, Sets, typed arrays of every kind (a Buffer arrives
//   as a Uint8Array), tf.Tensors and WireTensors (tensors arrive as tf.Tensors
//   in a worker and as WireTensors in the coordinator).
// Anything else is refused before a byte is sent, with the path to the bad
// value: functions, symbols, class instances (Error, RegExp, Promise, ...),
// ArrayBuffers, sparse arrays, symbol keys, circular references and nesting
// deeper than MAX_DEPTH. A value referenced twice arrives as two copies.
//
// Typed arrays, tensors and the values msgpackr cannot carry exactly (-0, Date,
// Map, Set) travel as instances of private classes packed as msgpackr
// extensions, so no user object can be mistaken for one.
import { types } from 'node:util';
import { addExtension } from './msgpackr';
import { PushInputError, describeValue } from '../util/errors';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | BigInt64Array
  | BigUint64Array;

export const TYPED_ARRAY_CTORS: Record<string, new (buf: ArrayBufferLike, off: number, len: number) => TypedArray> = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  BigInt64Array,
  BigUint64Array,
};

/** A tensor on the wire: what tensors become outside a tfjs thread. */
export interface TensorData {
  dtype: string;
  shape: number[];
  data: TypedArray;
}

/** A tensor outside tfjs: send one from the coordinator, and tensors come back as these. */
export class WireTensor implements TensorData {
  constructor(
    readonly data: TypedArray,
    readonly shape: number[],
    readonly dtype: string = 'float32',
  ) {}
}

/** Hooks that let a worker send and receive tf.Tensors without this module importing tfjs. */
export interface TensorHooks {
  isTensor(v: unknown): boolean;
  toData(v: unknown): TensorData;
  fromData(d: TensorData): unknown;
}

/** How deep an argument may nest (arrays, objects, Maps, Sets); deeper values are refused rather than risking the stack. */
export const MAX_DEPTH = 64;

export const SENDABLE_TYPES =
  'undefined, null, booleans, numbers, strings, 64-bit BigInts, Dates, arrays, plain objects, Maps, Sets, typed arrays and tensors';

type PathKey = string | number | { text: string };

/** A value that cannot be sent, with the path to it inside the message body. */
export class UnsendableValueError extends PushInputError {
  readonly path: PathKey[] = [];
  constructor(readonly reason: string) {
    super(reason);
  }

  /**
   * The error as users see it: `launch("train") argument 2 at .opts.cb: a function ...`.
   * With `argList` the body is an argument list, and its first path key is the argument's index.
   */
  within(what: string, argList = false): PushInputError {
    let path = this.path;
    let where = what;
    if (argList && typeof path[0] === 'number') {
      where += ` argument ${path[0] + 1}`;
      path = path.slice(1);
    }
    if (path.length) where += ` at ${pathText(path)}`;
    return new PushInputError(`${where}: ${this.reason}`);
  }
}

/** `err` named by `what` when it is an UnsendableValueError (see `within`); any other error unchanged. */
export function nameUnsendable(err: unknown, what: string, argList = false): unknown {
  return err instanceof UnsendableValueError ? err.within(what, argList) : err;
}

function pathText(path: readonly PathKey[]): string {
  // Deep paths keep their ends: where the value starts and where it goes bad.
  if (path.length > 16) return `${pathText(path.slice(0, 6))}...${pathText(path.slice(-6))}`;
  return path
    .map((k) => {
      if (typeof k === 'number') return `[${k}]`;
      if (typeof k === 'object') return k.text;
      return /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
    })
    .join('');
}

// ---- placeholders, packed as msgpackr extensions ----

class BinRef {
  constructor(readonly index: number) {}
}
class TensorRef {
  constructor(
    readonly dtype: string,
    readonly shape: number[],
    readonly data: unknown,
  ) {}
}
class NegativeZero {}
class DateRef {
  constructor(readonly time: number) {}
}
class MapRef {
  /** Keys and values alternating. */
  constructor(readonly flat: unknown[]) {}
}
class SetRef {
  constructor(readonly values: unknown[]) {}
}
const NEGATIVE_ZERO = new NegativeZero();

// Extension codes 0x50-0x55 ('P'...): msgpackr's own are 0x00, 0x42, 0x62, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, 0xff.
addExtension({ Class: BinRef, type: 0x50, write: (r: BinRef) => r.index, read: (i: number) => new BinRef(i) });
addExtension({ Class: TensorRef, type: 0x51, write: (t: TensorRef) => [t.dtype, t.shape, t.data], read: ([d, s, x]: [string, number[], unknown]) => new TensorRef(d, s, x) });
addExtension({ Class: NegativeZero, type: 0x52, write: () => 0, read: () => -0 });
addExtension({ Class: DateRef, type: 0x53, write: (d: DateRef) => d.time, read: (t: number) => new Date(t) });
addExtension({ Class: MapRef, type: 0x54, write: (m: MapRef) => m.flat, read: (flat: unknown[]) => new MapRef(flat) });
addExtension({ Class: SetRef, type: 0x55, write: (s: SetRef) => s.values, read: (values: unknown[]) => new SetRef(values) });

// ---- encoding: validate and lift binaries out ----

export interface LiftOptions {
  /** Where typed arrays go; without it the value is only checked (tensors are not read). */
  segments?: ArrayBufferView[];
  hooks?: TensorHooks;
}

/** Typed array kind by its tag: works across realms (jest's sandbox) and for Buffer (a Uint8Array). */
export function typedArrayName(v: ArrayBufferView): string {
  return Object.prototype.toString.call(v).slice(8, -1);
}

/** tf.Tensors (of any tfjs copy) and WireTensors travel as tensors. */
function isTensorLike(v: object): boolean {
  if (v instanceof WireTensor) return true;
  const t = v as { dataSync?: unknown; shape?: unknown; dtype?: unknown };
  return typeof t.dataSync === 'function' && Array.isArray(t.shape) && typeof t.dtype === 'string';
}

function tensorLikeData(v: object): TensorData {
  if (v instanceof WireTensor) return v;
  const t = v as { dataSync(): TypedArray; shape: number[]; dtype: string };
  return { dtype: t.dtype, shape: t.shape, data: t.dataSync() };
}

/** Throws an UnsendableValueError (with its path) unless `value` can be sent exactly. */
export function checkSendable(value: unknown, hooks?: TensorHooks): void {
  new Lifter({ hooks }).lift(value, 0);
}

/** The skeleton msgpackr packs: `value` with typed arrays moved to `segments` and placeholders for the rest. */
export function liftValue(value: unknown, opts: LiftOptions): unknown {
  return new Lifter(opts).lift(value, 0);
}

const unsupported = (what: string, hint = '') => new UnsendableValueError(`${what} cannot be sent in a message (${hint}supported: ${SENDABLE_TYPES})`);
const article = (word: string) => (/^[AEIOU]/i.test(word) ? `an ${word}` : `a ${word}`);
// String.prototype.isWellFormed: Node 20, not yet in TypeScript's ES2022 lib.
const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

class Lifter {
  /** Containers on the path from the root to the current value, by depth: a repeat is a cycle. */
  private readonly ancestors: object[] = [];
  constructor(private readonly opts: LiftOptions) {}

  lift(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'number':
        return value === 0 && 1 / value < 0 ? NEGATIVE_ZERO : value;
      case 'string':
        if (!isWellFormed(value)) throw new UnsendableValueError(`a string with a lone surrogate (${describeValue(value)}) cannot be sent: messages carry UTF-8`);
        return value;
      case 'boolean':
      case 'undefined':
        return value;
      case 'bigint':
        if (value < INT64_MIN || value > UINT64_MAX) {
          throw new UnsendableValueError(`the BigInt ${shortBigInt(value)} is outside the range a message carries exactly (-2^63 to 2^64 - 1)`);
        }
        return value;
      case 'function':
        throw unsupported('a function');
      case 'symbol':
        throw unsupported('a symbol');
    }
    if (value === null) return null;
    const obj = value as object;
    if (types.isTypedArray(obj)) return this.typedArray(obj as ArrayBufferView);
    // Depth 0 is the body, often an argument list: each argument may nest MAX_DEPTH levels.
    if (depth > MAX_DEPTH) throw new UnsendableValueError(`nesting deeper than ${MAX_DEPTH} levels`);
    const { hooks } = this.opts;
    if (obj instanceof WireTensor || (hooks ? hooks.isTensor(obj) : isTensorLike(obj))) return this.tensor(obj, depth);
    // A scan of at most MAX_DEPTH ancestors: cheaper than a Set for the shallow trees messages hold.
    for (let i = 0; i < depth; i++) if (this.ancestors[i] === obj) throw new UnsendableValueError('circular reference: the value contains itself');
    this.ancestors[depth] = obj;
    return this.container(obj, depth + 1);
  }

  private typedArray(v: ArrayBufferView): unknown {
    const t = typedArrayName(v);
    if (!(t in TYPED_ARRAY_CTORS)) throw unsupported(article(t));
    if (!this.opts.segments) return v;
    this.opts.segments.push(v);
    return new BinRef(this.opts.segments.length - 1);
  }

  private tensor(v: object, depth: number): unknown {
    if (!this.opts.segments) return v; // checking only: do not read a tensor's data
    let d: TensorData;
    try {
      d = v instanceof WireTensor || !this.opts.hooks ? tensorLikeData(v) : this.opts.hooks.toData(v);
    } catch (err) {
      throw new UnsendableValueError(`a tensor whose data cannot be read (${(err as Error).message})`);
    }
    return new TensorRef(d.dtype, [...d.shape], this.lift(d.data, depth + 1));
  }

  private container(v: object, depth: number): unknown {
    const proto = Object.getPrototypeOf(v);
    // The common cases first.
    if (proto === Object.prototype) return this.object(v as Record<string, unknown>, depth);
    if (proto === Array.prototype) return this.array(v as unknown[], depth);
    const kind = builtinKind(v);
    if (kind === 'Array') return this.array(v as unknown[], depth);
    if (kind === 'Object') return this.object(v as Record<string, unknown>, depth);
    if (kind === 'Date' && types.isDate(v)) return new DateRef((v as Date).getTime());
    if (kind === 'Map' && types.isMap(v)) return this.map(v as Map<unknown, unknown>, depth);
    if (kind === 'Set' && types.isSet(v)) return this.set(v as Set<unknown>, depth);
    if (kind === 'ArrayBuffer' || kind === 'SharedArrayBuffer' || kind === 'DataView') throw unsupported(article(kind), 'send a typed array view of it; ');
    if (types.isNativeError(v)) throw unsupported(article(kind ?? 'Error'));
    throw unsupported(kind && BUILTIN_OBJECTS.has(kind) ? article(kind) : `an instance of class ${kind ?? '(anonymous)'}`);
  }

  private array(v: unknown[], depth: number): unknown[] {
    const out = new Array(v.length);
    let i = 0;
    try {
      for (; i < v.length; i++) {
        const x = v[i];
        if (x === undefined && !(i in v)) throw new UnsendableValueError('a hole in a sparse array cannot be sent: fill it, e.g. with undefined');
        out[i] = this.lift(x, depth);
      }
    } catch (err) {
      throw within(err, i);
    }
    return out;
  }

  private object(v: Record<string, unknown>, depth: number): Record<string, unknown> {
    const symbols = Object.getOwnPropertySymbols(v).filter((s) => Object.prototype.propertyIsEnumerable.call(v, s));
    if (symbols.length) throw new UnsendableValueError(`an object with symbol keys (${symbols.map(String).join(', ')}) cannot be sent`);
    const out: Record<string, unknown> = {};
    let key = '';
    try {
      for (key of Object.keys(v)) {
        if (key === '__proto__') throw new UnsendableValueError('the key "__proto__" cannot be sent');
        if (!isWellFormed(key)) throw new UnsendableValueError(`a key with a lone surrogate (${JSON.stringify(key)}) cannot be sent: messages carry UTF-8`);
        out[key] = this.lift(v[key], depth);
      }
    } catch (err) {
      throw within(err, key);
    }
    return out;
  }

  private map(v: Map<unknown, unknown>, depth: number): MapRef {
    const flat: unknown[] = [];
    let i = 0;
    for (const [k, x] of v) {
      try {
        flat.push(this.lift(k, depth));
      } catch (err) {
        throw within(err, { text: `.keys()[${i}]` });
      }
      try {
        flat.push(this.lift(x, depth));
      } catch (err) {
        throw within(err, { text: typeof k === 'string' || typeof k === 'number' ? `.get(${describeValue(k)})` : `.values()[${i}]` });
      }
      i++;
    }
    return new MapRef(flat);
  }

  private set(v: Set<unknown>, depth: number): SetRef {
    const values: unknown[] = [];
    for (const x of v) {
      try {
        values.push(this.lift(x, depth));
      } catch (err) {
        throw within(err, { text: `.values()[${values.length}]` });
      }
    }
    return new SetRef(values);
  }
}

const BUILTIN_OBJECTS = new Set(['RegExp', 'Promise', 'WeakMap', 'WeakSet', 'WeakRef', 'Number', 'String', 'Boolean', 'BigInt', 'Symbol', 'Proxy', 'Function']);

/** Prepends a path key to an UnsendableValueError as it bubbles up; other errors pass. */
function within(err: unknown, key: PathKey): unknown {
  if (err instanceof UnsendableValueError) {
    err.path.unshift(key);
    err.message = `at ${pathText(err.path)}: ${err.reason}`;
  }
  return err;
}

/**
 * The built-in an object is a direct instance of ("Array", "Object", "Date", ...), by the
 * name of its prototype's constructor so that objects from other realms qualify;
 * a null prototype counts as "Object", and subclasses give their own class name.
 */
function builtinKind(v: object): string | undefined {
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto === null) return 'Object';
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  const name = typeof ctor === 'function' ? ctor.name : undefined;
  if (name === 'Object' && Object.getPrototypeOf(proto) !== null) return undefined;
  if (name === 'Array' && !Array.isArray(v)) return undefined;
  return name || undefined;
}

function shortBigInt(v: bigint): string {
  const s = v.toString();
  return s.length > 30 ? `${s.slice(0, 12)}...${s.slice(-6)}n (${s.replace('-', '').length} digits)` : `${s}n`;
}

// ---- decoding: put binaries and placeholders back ----

/** Replaces placeholders in a decoded skeleton (in place: msgpackr's output is ours). */
export function lowerValue(value: unknown, segments: TypedArray[], hooks?: TensorHooks): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = lowerValue(value[i], segments, hooks);
    return value;
  }
  if (value instanceof BinRef) return segments[value.index];
  if (value instanceof TensorRef) {
    const d = new WireTensor(lowerValue(value.data, segments) as TypedArray, value.shape, value.dtype);
    return hooks ? hooks.fromData(d) : d;
  }
  if (value instanceof MapRef) {
    const m = new Map<unknown, unknown>();
    for (let i = 0; i < value.flat.length; i += 2) m.set(lowerValue(value.flat[i], segments, hooks), lowerValue(value.flat[i + 1], segments, hooks));
    return m;
  }
  if (value instanceof SetRef) return new Set(value.values.map((v) => lowerValue(v, segments, hooks)));
  if (value instanceof Date) return value;
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) obj[k] = lowerValue(obj[k], segments, hooks);
  return obj;
}
