// The export format's pure parts, in Node: float16 rounding against known
// values, the JS SHA-256 (used in insecure page contexts) against node:crypto,
// and the browser's input reader. No browser needed.
import { createHash } from 'node:crypto';
import { float16Bits, float16Value, fromFloat16, toFloat16 } from '../../src/browser/format';
import { sha256Hex } from '../../src/browser/sha256';
import { readBrowserInputs } from '../../src/browser/inputs';
import { Rng } from '../../src/util/rng';

test('float16: exact values, round to nearest even, subnormals, overflow to Infinity', () => {
  expect(float16Bits(1)).toBe(0x3c00);
  expect(float16Bits(-2)).toBe(0xc000);
  expect(float16Bits(65504)).toBe(0x7bff);
  expect(float16Bits(65520)).toBe(0x7c00); // rounds up past the largest finite half
  expect(float16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
  expect(float16Bits(2 ** -26)).toBe(0x0000);
  expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00); // a tie rounds to the even mantissa
  expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  expect(float16Value(0x3555)).toBeCloseTo(1 / 3, 3);
  expect(Number.isNaN(float16Value(float16Bits(NaN)))).toBe(true);
  // Every finite half survives a round trip, and rounding error stays within half an ulp.
  for (let h = 0; h < 0x7c00; h++) expect(float16Bits(float16Value(h))).toBe(h);
  const x = new Rng(3).fillNormal(new Float32Array(10000), 0, 2);
  const back = fromFloat16(toFloat16(x));
  x.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25));
});

test('the JS SHA-256 equals node:crypto on every length around the block edges', () => {
  const rng = new Rng(11);
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 70_000]) {
    const data = Uint8Array.from({ length: n }, () => rng.int(256));
    expect(sha256Hex(data)).toBe(createHash('sha256').update(data).digest('hex'));
  }
});

test('inputs: nested rows, flat rows, {x, xShape}; one-line errors for ragged, wrong-sized and non-finite', () => {
  expect(readBrowserInputs([[1], [2]], [1])).toEqual({ x: Float32Array.from([1, 2]), shape: [2, 1] });
  expect(readBrowserInputs([1, 2, 3, 4], [2])).toEqual({ x: Float32Array.from([1, 2, 3, 4]), shape: [2, 2] });
  expect(readBrowserInputs({ x: new Float32Array(8), xShape: [2, 2, 2, 1] }, [2, 2, 1]).shape).toEqual([2, 2, 2, 1]);
  expect(() => readBrowserInputs([[1, 2], [3]], [2])).toThrow(/^x\[1\] has shape \[1\]: expected \[2\] like x\[0\] \(a ragged array\)$/);
  expect(() => readBrowserInputs([[1, 2, 3]], [2])).toThrow(/x has rows of shape \[3\] \(3 values\) but the model takes inputs of shape \[2\] \(2 values\)/);
  expect(() => readBrowserInputs([[1, NaN]], [2])).toThrow(/x row 0 holds NaN: expected finite numbers/);
  expect(() => readBrowserInputs([['a']], [1])).toThrow(/x\[0\]\[0\] holds "a": expected numbers in nested arrays/);
});
