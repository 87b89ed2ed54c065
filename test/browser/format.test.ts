// The export format's pure parts, in Node: float16 rounding against known
// values, the JS SHA-256 (used in insecure page contexts) against node:crypto,
// the browser's input reader, and the manifest's checks per sampling kind. No
// browser needed.
import { createHash } from 'node:crypto';
import { BROWSER_FORMAT, BROWSER_FORMAT_VERSION, float16Bits, float16Value, fromFloat16, toFloat16, validateManifest } from '../../src/browser/format';
import { mlp } from '../../src/nn/spec';
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

/** A well-formed manifest of P particles of a 1-in, 1-out model with n = 4 parameters, `arrays` per particle. */
function manifest(sampling: string, arrays: [string, number, string?][], predictive: Record<string, unknown>, P = 2): Record<string, any> {
  const model = mlp([1], { inputs: 1, outputs: 1 }); // 1 x 1 + 1, then 1 x 1 + 1
  const tensors: Record<string, unknown>[] = [];
  let offset = 0;
  for (let particle = 0; particle < P; particle++) {
    for (const [name, length, dtype = 'float32'] of arrays) {
      tensors.push({ particle, name, dtype, offset, length });
      offset += length * 8;
    }
  }
  return {
    format: BROWSER_FORMAT,
    formatVersion: BROWSER_FORMAT_VERSION,
    pushEnsVersion: '0.0.0',
    algorithm: 'any',
    sampling,
    task: 'regression',
    model,
    numParams: 4,
    inputShape: [1],
    outputSize: 1,
    gaussian: false,
    particleSeeds: Array.from({ length: P }, (_, k) => k + 1),
    predictive,
    defaultModes: ['mean', 'std'],
    weights: { file: 'weights.bin', bytes: Math.max(offset, 8), sha256: '0'.repeat(64), byteOrder: 'little', storage: 'float32', tensors },
    demo: { kind: 'generic', title: 't', xLabels: ['x'] },
    source: { checkpoint: 'c', epoch: 1 },
  };
}

test('manifest: each sampling kind gets exactly its arrays and settings, one-line errors otherwise', () => {
  const seeds = { sampleSeeds: [7, 8] };
  // members: one or more stacked weight vectors per particle, the same count for each; a prior with priorBeta.
  expect(validateManifest(manifest('members', [['params', 12]], {})).sampling).toBe('members');
  expect(() => validateManifest(manifest('members', [['params', 6]], {}))).toThrow(/tensors\[0\]\.length is 6: expected a multiple of 4/);
  const uneven = manifest('members', [['params', 8]], {});
  uneven.weights.tensors[1].length = 4;
  expect(() => validateManifest(uneven)).toThrow(/tensors\[1\]\.length is 4: expected 8: every particle has the same number of members/);
  expect(validateManifest(manifest('members', [['params', 4], ['prior', 4]], { priorBeta: 1 })).predictive.priorBeta).toBe(1);
  expect(() => validateManifest(manifest('members', [['params', 4]], { priorBeta: 1 }))).toThrow(/has no prior for particle 0: expected one for every particle \("members" sampling\)/);
  // dropout: one weight vector, numSamples and a sample seed per particle.
  expect(validateManifest(manifest('dropout', [['params', 4]], { numSamples: 3, ...seeds })).sampling).toBe('dropout');
  expect(() => validateManifest(manifest('dropout', [['params', 8]], { numSamples: 3, ...seeds }))).toThrow(/length is 8: expected 4, the model's parameter count/);
  expect(() => validateManifest(manifest('dropout', [['params', 4]], { numSamples: 3 }))).toThrow(/predictive\.sampleSeeds is undefined: expected one 32-bit seed per particle/);
  expect(() => validateManifest(manifest('dropout', [['params', 4], ['prior', 4]], { numSamples: 3, ...seeds }))).toThrow(/name is "prior": expected one of params \("dropout" sampling\)/);
  // swag: float64 moments and deviations, scale and varClamp; no prior.
  const swag: [string, number, string?][] = [['swagMean', 4, 'float64'], ['swagSqMean', 4, 'float64'], ['swagDeviations', 8]];
  expect(validateManifest(manifest('swag', swag, { numSamples: 2, scale: 0.5, varClamp: 1e-30, ...seeds })).sampling).toBe('swag');
  expect(() => validateManifest(manifest('swag', swag, { numSamples: 2, scale: 0.5, varClamp: 1e-30, priorBeta: 1, ...seeds }))).toThrow(/priorBeta is 1: expected absent/);
  expect(() => validateManifest(manifest('swag', [['params', 4]], { numSamples: 2, scale: 0.5, varClamp: 1e-30, ...seeds }))).toThrow(/name is "params": expected one of swagMean, swagSqMean, swagDeviations/);
  expect(() => validateManifest(manifest('mswag', [['params', 4]], {}))).toThrow(/^posterior\.json: sampling is "mswag": expected members, swag, dropout$/);
});
