import { Dataset, featureSize, gatherRows, numExamples, subset, summarizeDataset } from '../../src/data/dataset';
import { validateDataset } from '../../src/data/validate';
import { inputErrorMessage } from './temp-files';

function regression(): Dataset {
  return {
    name: 'tiny',
    task: 'regression',
    x: Float32Array.from([0, 1, 10, 11, 20, 21]),
    xShape: [3, 2],
    y: Float32Array.from([5, 6, 7]),
    yShape: [3, 1],
    featureNames: ['a', 'b'],
  };
}

function classification(): Dataset {
  return {
    name: 'labels',
    task: 'classification',
    x: Float32Array.from([0, 1, 2, 3]),
    xShape: [4, 1, 1],
    y: Float32Array.from([0, 2, 1, 2]),
    yShape: [4],
    numClasses: 3,
  };
}

describe('dataset helpers', () => {
  test('numExamples and featureSize read the shape', () => {
    expect(numExamples(regression())).toBe(3);
    expect(featureSize(regression())).toBe(2);
    expect(featureSize({ ...classification(), xShape: [1, 28, 28, 1], x: new Float32Array(784), y: new Float32Array(1), yShape: [1] })).toBe(784);
  });

  test('gatherRows copies rows in order, repeats allowed, into out', () => {
    const x = Float32Array.from([0, 1, 10, 11, 20, 21]);
    expect(Array.from(gatherRows(x, 2, Int32Array.from([2, 0, 2])))).toEqual([20, 21, 0, 1, 20, 21]);
    const out = new Float32Array(4).fill(-1);
    const result = gatherRows(x, 2, [1], out);
    expect(result).toBe(out);
    expect(Array.from(out)).toEqual([10, 11, -1, -1]);
    expect(() => gatherRows(x, 2, [3])).toThrow(RangeError);
    expect(() => gatherRows(x, 2, [0, 1], new Float32Array(3))).toThrow(RangeError);
  });

  test('subset gathers x and y rows and keeps metadata', () => {
    const s = subset(regression(), Int32Array.from([2, 1]));
    expect(s.xShape).toEqual([2, 2]);
    expect(s.yShape).toEqual([2, 1]);
    expect(Array.from(s.x)).toEqual([20, 21, 10, 11]);
    expect(Array.from(s.y)).toEqual([7, 6]);
    expect(s.featureNames).toEqual(['a', 'b']);
    const c = subset(classification(), Int32Array.from([3, 3, 0]));
    expect(c.xShape).toEqual([3, 1, 1]);
    expect(Array.from(c.y)).toEqual([2, 2, 0]);
  });

  test('summarizeDataset is one line with task, size and shapes', () => {
    expect(summarizeDataset(classification())).toBe('labels: classification, 4 examples, x [4,1,1], y [4], 3 classes');
  });
});

describe('validateDataset', () => {
  test('accepts well-formed datasets', () => {
    expect(() => validateDataset(regression())).not.toThrow();
    expect(() => validateDataset(classification())).not.toThrow();
  });

  test('names the row and column of a NaN input', () => {
    const ds = regression();
    ds.x[3] = NaN;
    const msg = inputErrorMessage(() => validateDataset(ds));
    expect(msg).toMatch(/input row 1, column 1 "b" is NaN/);
    expect(msg).not.toContain('\n');
  });

  test('rejects an infinite target', () => {
    const ds = regression();
    ds.y[2] = Infinity;
    expect(inputErrorMessage(() => validateDataset(ds))).toMatch(/target row 2, column 0 is Infinity/);
  });

  test('rejects labels out of range or not integers', () => {
    const ds = classification();
    ds.y[1] = 3;
    expect(inputErrorMessage(() => validateDataset(ds))).toMatch(/label at row 1 is 3, expected an integer class index in \[0, 2\]/);
    ds.y[1] = 0.5;
    expect(inputErrorMessage(() => validateDataset(ds))).toMatch(/row 1 is 0.5/);
    ds.y[1] = -1;
    expect(inputErrorMessage(() => validateDataset(ds))).toMatch(/row 1 is -1/);
  });

  test('rejects shape mismatches', () => {
    expect(inputErrorMessage(() => validateDataset({ ...regression(), xShape: [3, 3] }))).toMatch(/xShape \[3,3\] holds 9 values but the array has 6/);
    expect(inputErrorMessage(() => validateDataset({ ...regression(), y: new Float32Array(2), yShape: [2, 1] }))).toMatch(/x has 3 rows but y has 2/);
    expect(inputErrorMessage(() => validateDataset({ ...regression(), y: new Float32Array(3), yShape: [3] }))).toMatch(/expected \[N, d\]/);
    expect(inputErrorMessage(() => validateDataset({ ...classification(), numClasses: undefined }))).toMatch(/numClasses/);
  });
});
