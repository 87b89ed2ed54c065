// Prediction inputs in the page: nested arrays of numbers (rows of examples),
// a flat array or typed array of whole rows, or {x, xShape}. Read into one
// Float32Array [N, ...inputShape] with one-line errors, as Node's
// Posterior.predict reads them (src/bayes/data.ts holds Node-only code, so
// the browser has this small reader of its own).
import { PushInputError, describeValue } from '../util/errors';

export type BrowserInput = ArrayLike<number> | readonly unknown[] | { x: ArrayLike<number> | readonly unknown[]; xShape?: readonly number[] };

/** Shape of a nested array of numbers; throws on ragged arrays and non-numbers. */
function shapeOf(a: unknown, what: string): number[] {
  if (typeof a === 'number') return [];
  if (ArrayBuffer.isView(a)) return [(a as unknown as ArrayLike<number>).length];
  if (!Array.isArray(a)) throw new PushInputError(`${what} holds ${describeValue(a)}: expected numbers in nested arrays`);
  if (a.length === 0) return [0];
  const inner = shapeOf(a[0], `${what}[0]`);
  for (let i = 1; i < a.length; i++) {
    const s = shapeOf(a[i], `${what}[${i}]`);
    if (s.join() !== inner.join()) throw new PushInputError(`${what}[${i}] has shape [${s.join(', ')}]: expected [${inner.join(', ')}] like ${what}[0] (a ragged array)`);
  }
  return [a.length, ...inner];
}

function flatten(a: unknown, out: Float32Array, at: { i: number }): void {
  if (typeof a === 'number') out[at.i++] = a;
  else for (let i = 0; i < (a as ArrayLike<unknown>).length; i++) flatten((a as ArrayLike<unknown>)[i], out, at);
}

/** x as [N, ...inputShape] float32: N examples of prod(inputShape) finite values each. */
export function readBrowserInputs(input: BrowserInput, inputShape: readonly number[], what = 'x'): { x: Float32Array; shape: number[] } {
  const size = inputShape.reduce((a, b) => a * b, 1);
  const wrapped = input !== null && typeof input === 'object' && !Array.isArray(input) && !ArrayBuffer.isView(input) && 'x' in input;
  const data = wrapped ? (input as { x: unknown }).x : input;
  const given = wrapped ? (input as { xShape?: readonly number[] }).xShape : undefined;
  let flat: Float32Array;
  let shape: number[];
  if (ArrayBuffer.isView(data) || (Array.isArray(data) && data.every((v) => typeof v === 'number'))) {
    const arr = data as ArrayLike<number>;
    flat = Float32Array.from(arr);
    shape = given ? [...given] : arr.length % size === 0 ? [arr.length / size] : [arr.length];
  } else {
    shape = shapeOf(data, what);
    flat = new Float32Array(shape.reduce((a, b) => a * b, 1));
    flatten(data, flat, { i: 0 });
    if (given) shape = [...given];
  }
  const n = shape[0] ?? 0;
  const row = shape.length <= 1 ? (given ? 1 : flat.length / Math.max(n, 1)) : shape.slice(1).reduce((a, b) => a * b, 1);
  if (n * row !== flat.length) throw new PushInputError(`${what}Shape [${shape.join(', ')}] holds ${n * row} values but ${what} has ${flat.length}`);
  if (row !== size) {
    throw new PushInputError(`${what} has rows of shape [${shape.slice(1).join(', ')}] (${row} values) but the model takes inputs of shape [${inputShape.join(', ')}] (${size} values)`);
  }
  for (let i = 0; i < flat.length; i++) {
    if (!Number.isFinite(flat[i])) throw new PushInputError(`${what} row ${Math.floor(i / size)} holds ${String(flat[i])}: expected finite numbers`);
  }
  return { x: flat, shape: [n, ...inputShape] };
}
