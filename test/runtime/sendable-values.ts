// Values of every type a message carries (wire.test.ts and messages.test.ts send
// them), the values it must refuse, and an exact comparison: -0 and NaN by
// Object.is, typed arrays by kind, Dates by time, Maps and Sets by entries.
import { WireTensor } from '../../src/runtime/wire';

const TYPED = [Float32Array, Float64Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array, Uint8ClampedArray] as const;

/** [name, value]: sent one per argument, each must come back exactly. */
export function sendableValues(): [string, unknown][] {
  const shared = { s: 1 };
  return [
    ['undefined', undefined],
    ['null', null],
    ['true', true],
    ['false', false],
    ['zero', 0],
    ['negative zero', -0],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a fraction', 0.1 + 0.2],
    ['a large integer', 2 ** 53 + 2],
    ['a small negative', -5e-324],
    ['a string', 'héllo ✓ 😀'],
    ['an empty string', ''],
    ['a small BigInt', 5n],
    ['the smallest int64', -(2n ** 63n)],
    ['the largest uint64', 2n ** 64n - 1n],
    ['a Date', new Date(Date.UTC(2024, 1, 29, 12, 30, 45, 678))],
    ['a Date before 1970', new Date(-86_400_000 * 365 * 300)],
    ['an invalid Date', new Date(NaN)],
    ['an array', [1, 'two', [3, [4]], { five: 5 }]],
    ['an empty array', []],
    ['an array holding undefined', [undefined, 1]],
    ['a plain object', { a: 1, 'b c': [2], nested: { deep: { deeper: 'x' } }, u: undefined, negZero: -0 }],
    ['a Map', new Map<unknown, unknown>([['k', 1], [2, { v: Float32Array.from([1]) }], [true, new Set([1])]])],
    ['a Set', new Set<unknown>([1, 'a', 3n, null])],
    ...TYPED.map((T): [string, unknown] => [`a ${T.name}`, T.from([1, 2, 250, 0])]),
    ['a Float32Array with -0 and NaN', Float32Array.from([-0, NaN, Infinity])],
    ['a BigInt64Array', BigInt64Array.from([-(2n ** 63n), 1n])],
    ['a BigUint64Array', BigUint64Array.from([2n ** 64n - 1n, 0n])],
    ['an empty Float64Array', new Float64Array(0)],
    ['a subarray view', Float64Array.from([0, 1, 2, 3]).subarray(1, 3)],
    ['a WireTensor', new WireTensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3])],
    ['an int32 WireTensor', new WireTensor(Int32Array.from([7, 8]), [2], 'int32')],
    ['a value referenced twice (arrives as two copies)', [shared, shared]],
    ['a 64-level nesting', nest(64)],
    // Shaped like the placeholders of the old wire format: user data, never a placeholder.
    ['an object shaped like a binary placeholder', { $bin: 0, t: 'Float32Array' }],
    ['an object shaped like a tensor placeholder', { $tensor: { dtype: 'float32', shape: [1], data: { $bin: 0, t: 'Float32Array' } } }],
    ['a real Float32Array after the look-alikes', Float32Array.from([42, 43])],
  ];
}

/** `levels` objects, each inside the next. */
export function nest(levels: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = { n: v };
  return v;
}

export function circular(): unknown {
  const o: Record<string, unknown> = { a: [1] };
  (o.a as unknown[]).push({ back: o });
  return o;
}

class Point {
  constructor(readonly x = 1) {}
}

/** [name, value, message]: each refused with a one-line error naming the path and the reason. */
export function unsendableValues(): [string, unknown, RegExp][] {
  let deep: Record<string, unknown> = {};
  const deepRoot = deep;
  for (let i = 0; i < 100_000; i++) deep = deep.next = {};
  const withSymbolKey = { fine: 1, [Symbol('tag')]: 2 };
  return [
    ['a function', { opts: { callback: () => 1 } }, /at \.opts\.callback: a function cannot be sent in a message \(supported: .*typed arrays and tensors\)/],
    ['a symbol', [1, Symbol('s')], /at \[1\]: a symbol cannot be sent/],
    ['a circular object', circular(), /at \.a\[1\]\.back: circular reference/],
    ['a 100000-level object', deepRoot, /at \.next\.next.*: nesting deeper than 64 levels/],
    ['a BigInt above 2^64', { big: 2n ** 64n }, /at \.big: the BigInt 18446744073709551616n is outside the range a message carries exactly/],
    ['a huge BigInt', 7n ** 500n, /the BigInt \d{12}\.\.\.\d{6}n \(423 digits\) is outside/],
    ['an Error', { e: new Error('x') }, /at \.e: an Error cannot be sent/],
    ['a TypeError', new TypeError('x'), /a TypeError cannot be sent/],
    ['a RegExp', /re/, /a RegExp cannot be sent/],
    ['a Promise', Promise.resolve(1), /a Promise cannot be sent/],
    ['a WeakMap', new WeakMap(), /a WeakMap cannot be sent/],
    ['a class instance', { p: new Point() }, /at \.p: an instance of class Point cannot be sent/],
    ['a class', Point, /a function cannot be sent/],
    ['an ArrayBuffer', new ArrayBuffer(8), /an ArrayBuffer cannot be sent in a message \(send a typed array view of it;/],
    ['a DataView', new DataView(new ArrayBuffer(8)), /a DataView cannot be sent/],
    ['a sparse array', [1, , 3], /at \[1\]: a hole in a sparse array cannot be sent/],
    ['a symbol key', withSymbolKey, /an object with symbol keys \(Symbol\(tag\)\) cannot be sent/],
    ['an own __proto__ key', JSON.parse('{"ok": 1, "__proto__": {"x": 1}}'), /the key "__proto__" cannot be sent/],
    ['a lone surrogate', { s: 'a\uD800b' }, /at \.s: a string with a lone surrogate/],
    ['a function in a Map', new Map([['cb', () => 1]]), /at \.get\("cb"\): a function cannot be sent/],
    ['a symbol in a Set', new Set([1, Symbol('x')]), /at \.values\(\)\[1\]: a symbol cannot be sent/],
    ['a Map subclass', new (class Registry extends Map {})(), /an instance of class Registry cannot be sent/],
  ];
}

const kind = (v: unknown) => Object.prototype.toString.call(v).slice(8, -1);

/** Throws unless `actual` is exactly `expected`, naming the first difference. */
export function expectExact(actual: unknown, expected: unknown, where = 'value'): void {
  const fail = (why: string) => {
    throw new Error(`${where}: ${why}`);
  };
  if (typeof expected !== 'object' || expected === null) {
    if (!Object.is(actual, expected)) fail(`got ${String(actual)} (${typeof actual}), expected ${String(expected)} (${typeof expected})`);
    return;
  }
  if (typeof actual !== 'object' || actual === null) return fail(`got ${String(actual)}, expected ${kind(expected)}`);
  if (expected instanceof WireTensor) {
    const t = actual as WireTensor;
    if (t.constructor?.name !== 'WireTensor') fail(`got ${kind(actual)}, expected a WireTensor`);
    expectExact(t.dtype, expected.dtype, `${where}.dtype`);
    expectExact([...t.shape], expected.shape, `${where}.shape`);
    return expectExact(t.data, expected.data, `${where}.data`);
  }
  if (kind(actual) !== kind(expected)) fail(`got ${kind(actual)}, expected ${kind(expected)}`);
  if (ArrayBuffer.isView(expected)) {
    const a = Array.from(actual as ArrayLike<unknown>);
    const e = Array.from(expected as unknown as ArrayLike<unknown>);
    expectExact(a.length, e.length, `${where}.length`);
    e.forEach((x, i) => expectExact(a[i], x, `${where}[${i}]`));
  } else if (expected instanceof Date) {
    expectExact((actual as Date).getTime(), expected.getTime(), `${where}.getTime()`);
  } else if (expected instanceof Map) {
    expectExact([...(actual as Map<unknown, unknown>)], [...expected], `${where} entries`);
  } else if (expected instanceof Set) {
    expectExact([...(actual as Set<unknown>)], [...expected], `${where} values`);
  } else if (Array.isArray(expected)) {
    expectExact((actual as unknown[]).length, expected.length, `${where}.length`);
    expected.forEach((x, i) => expectExact((actual as unknown[])[i], x, `${where}[${i}]`));
  } else {
    expectExact(Object.keys(actual).join(','), Object.keys(expected).join(','), `${where} keys`);
    for (const k of Object.keys(expected)) expectExact((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${where}.${k}`);
  }
}
