import { Dataset } from '../../src/data/dataset';
import {
  applyNormalization,
  denormalizeTargets,
  denormalizeVariance,
  fitNormalization,
  normalizeInputs,
} from '../../src/data/normalization';
import { Rng } from '../../src/util/rng';
import { inputErrorMessage } from './temp-files';

function sample(): Dataset {
  const n = 200;
  const rng = new Rng(2);
  const x = new Float32Array(n * 3);
  const y = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    x[3 * i] = 5 + 2 * rng.normal();
    x[3 * i + 1] = -100 + 0.1 * rng.normal();
    x[3 * i + 2] = 7; // constant feature
    y[2 * i] = 1000 + 50 * rng.normal();
    y[2 * i + 1] = -3 + rng.normal();
  }
  return { name: 'sample', task: 'regression', x, xShape: [n, 3], y, yShape: [n, 2] };
}

function columnMeanStd(values: Float32Array, cols: number, col: number): [number, number] {
  const column = Array.from(values).filter((_, i) => i % cols === col);
  const mean = column.reduce((a, b) => a + b, 0) / column.length;
  const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / column.length;
  return [mean, Math.sqrt(variance)];
}

describe('normalization', () => {
  test('standardized train data has mean 0 and std 1 per column; constant columns map to 0', () => {
    const ds = sample();
    const norm = fitNormalization(ds);
    expect(norm.xStd[2]).toBe(1);
    expect(norm.xMean[2]).toBe(7);
    const z = applyNormalization(ds, norm);
    for (const col of [0, 1]) {
      const [mean, std] = columnMeanStd(z.x, 3, col);
      expect(mean).toBeCloseTo(0, 4);
      expect(std).toBeCloseTo(1, 4);
    }
    expect(columnMeanStd(z.x, 3, 2)).toEqual([0, 0]);
    for (const col of [0, 1]) {
      const [mean, std] = columnMeanStd(z.y, 2, col);
      expect(mean).toBeCloseTo(0, 4);
      expect(std).toBeCloseTo(1, 4);
    }
    // The original is untouched.
    expect(ds.x[2]).toBe(7);
  });

  test('denormalizeTargets inverts the target standardization', () => {
    const ds = sample();
    const norm = fitNormalization(ds);
    const back = denormalizeTargets(applyNormalization(ds, norm).y, norm);
    back.forEach((v, i) => expect(v).toBeCloseTo(ds.y[i], 2));
  });

  test('denormalizeVariance scales by std squared per target column', () => {
    const norm = { xMean: [0], xStd: [1], yMean: [10, -1], yStd: [2, 0.5] };
    expect(Array.from(denormalizeVariance(Float32Array.from([1, 1, 0.5, 4]), norm))).toEqual([4, 0.25, 2, 1]);
    // Without y stats the values come back unchanged (as a copy).
    const v = Float32Array.from([3]);
    const same = denormalizeVariance(v, { xMean: [0], xStd: [1] });
    expect(Array.from(same)).toEqual([3]);
    expect(same).not.toBe(v);
  });

  test('the normalization survives a JSON round trip (it is stored in checkpoints)', () => {
    const ds = sample();
    const norm = fitNormalization(ds);
    const restored = JSON.parse(JSON.stringify(norm));
    expect(restored).toEqual(norm);
    expect(normalizeInputs(ds.x, restored)).toEqual(applyNormalization(ds, norm).x);
  });

  test('classification labels are never standardized', () => {
    const ds: Dataset = { name: 'c', task: 'classification', x: Float32Array.from([1, 3]), xShape: [2, 1], y: Float32Array.from([0, 1]), yShape: [2], numClasses: 2 };
    const norm = fitNormalization(ds);
    expect(norm.yMean).toBeUndefined();
    expect(Array.from(applyNormalization(ds, norm).y)).toEqual([0, 1]);
    expect(Array.from(applyNormalization(ds, norm).x)).toEqual([-1, 1]);
    expect(inputErrorMessage(() => fitNormalization(ds, { x: true, y: true }))).toMatch(/cannot be standardized/);
  });

  test('x: false gives identity input statistics; a feature-count mismatch is an input error', () => {
    const ds = sample();
    const norm = fitNormalization(ds, { x: false, y: true });
    expect(norm.xMean).toEqual([0, 0, 0]);
    expect(norm.xStd).toEqual([1, 1, 1]);
    expect(applyNormalization(ds, norm).x).toEqual(ds.x);
    expect(inputErrorMessage(() => applyNormalization(ds, { xMean: [0], xStd: [1] }))).toMatch(/3 features per row, expected 1/);
  });
});
