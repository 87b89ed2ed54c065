import { Dataset } from '../../src/data/dataset';
import { batchIndices, bootstrapIndices } from '../../src/data/sampling';
import { splitTrainTest } from '../../src/data/split';
import { Rng } from '../../src/util/rng';
import { inputErrorMessage } from './temp-files';

function sorted(batches: Int32Array[]): number[] {
  return batches.flatMap((b) => Array.from(b)).sort((a, b) => a - b);
}

describe('batchIndices', () => {
  test('shuffled batches cover every index exactly once, last partial batch kept', () => {
    const batches = batchIndices(103, 10, new Rng(7));
    expect(batches.map((b) => b.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    expect(sorted(batches)).toEqual(Array.from({ length: 103 }, (_, i) => i));
    // Shuffled: not simply 0..9 first.
    expect(Array.from(batches[0])).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('without rng the batches are in order; the same seed gives the same batches', () => {
    expect(batchIndices(5, 2, null).map((b) => Array.from(b))).toEqual([[0, 1], [2, 3], [4]]);
    expect(batchIndices(50, 8, new Rng(3))).toEqual(batchIndices(50, 8, new Rng(3)));
    // One rng used for two epochs gives two different orders.
    const rng = new Rng(3);
    expect(batchIndices(50, 50, rng)[0]).not.toEqual(batchIndices(50, 50, rng)[0]);
  });

  test('a batch larger than N gives one batch; bad batch sizes are input errors', () => {
    expect(batchIndices(4, 100, new Rng(1)).length).toBe(1);
    expect(inputErrorMessage(() => batchIndices(4, 0, null))).toBe('batch size 0: expected a positive integer');
    expect(inputErrorMessage(() => batchIndices(4, 2.5, null))).toMatch(/batch size 2.5/);
  });
});

describe('bootstrapIndices', () => {
  test('N draws in range, with repeats, deterministic for a seed', () => {
    const idx = bootstrapIndices(1000, new Rng(11));
    expect(idx.length).toBe(1000);
    expect(idx.every((i) => i >= 0 && i < 1000 && Number.isInteger(i))).toBe(true);
    const distinct = new Set(idx).size;
    // Expected distinct fraction is 1 - 1/e ≈ 0.632.
    expect(distinct).toBeGreaterThan(580);
    expect(distinct).toBeLessThan(690);
    expect(bootstrapIndices(1000, new Rng(11))).toEqual(idx);
    expect(bootstrapIndices(1000, new Rng(12))).not.toEqual(idx);
  });
});

describe('splitTrainTest', () => {
  const n = 50;
  const ds: Dataset = {
    name: 'ramp',
    task: 'regression',
    x: Float32Array.from({ length: n }, (_, i) => i),
    xShape: [n, 1],
    y: Float32Array.from({ length: n }, (_, i) => 100 + i),
    yShape: [n, 1],
  };

  test('partitions the examples, seeded and deterministic, rows kept paired', () => {
    const split = splitTrainTest(ds, 0.2, 5);
    expect(split.train.xShape).toEqual([40, 1]);
    expect(split.test!.xShape).toEqual([10, 1]);
    const all = [...split.train.x, ...split.test!.x].sort((a, b) => a - b);
    expect(all).toEqual(Array.from(ds.x));
    split.train.x.forEach((v, i) => expect(split.train.y[i]).toBe(v + 100));
    expect(splitTrainTest(ds, 0.2, 5)).toEqual(split);
    expect(Array.from(splitTrainTest(ds, 0.2, 6).test!.x)).not.toEqual(Array.from(split.test!.x));
  });

  test('fraction 0 gives no test set; a tiny fraction still holds out one example', () => {
    expect(splitTrainTest(ds, 0, 1).test).toBeUndefined();
    expect(splitTrainTest(ds, 0.001, 1).test!.xShape[0]).toBe(1);
    expect(inputErrorMessage(() => splitTrainTest(ds, 1, 1))).toBe('test fraction 1: expected a number in [0, 1)');
  });
});
