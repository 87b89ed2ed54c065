import { loadDataset } from '../../src/data/specs';

describe('mnist', () => {
  test('loads digits as [N,28,28,1] in [0,1] with 10 classes, the same for every seed', () => {
    const split = loadDataset('mnist:600,200', { seed: 1, testFraction: 0.5 });
    const { train, test } = split;
    expect(train.xShape).toEqual([600, 28, 28, 1]);
    expect(test!.xShape).toEqual([200, 28, 28, 1]);
    expect(train.yShape).toEqual([600]);
    expect(train.numClasses).toBe(10);
    expect(train.task).toBe('classification');

    let min = Infinity;
    let max = -Infinity;
    for (const v of train.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    // Every class appears in a shuffled sample of 600.
    expect(new Set(train.y).size).toBe(10);
    expect(train.y.every((label) => Number.isInteger(label) && label >= 0 && label < 10)).toBe(true);
    // A digit has a few hundred background pixels, not a blank or full image.
    const firstImage = train.x.subarray(0, 784);
    const ink = firstImage.filter((v) => v > 0.5).length;
    expect(ink).toBeGreaterThan(20);
    expect(ink).toBeLessThan(400);

    // Fixed split: another seed, a bigger train set, same leading digits; train and test never overlap.
    const again = loadDataset('mnist:800,200', { seed: 2 });
    expect(again.train.x.subarray(0, 600 * 784)).toEqual(train.x);
    const trainImages = new Set<string>();
    for (let i = 0; i < 600; i++) trainImages.add(train.x.subarray(i * 784, (i + 1) * 784).join(','));
    for (let i = 0; i < 200; i++) expect(trainImages.has(test!.x.subarray(i * 784, (i + 1) * 784).join(','))).toBe(false);
  });

  test('mnist:N,0 has no test set and standardize works per pixel', () => {
    const split = loadDataset('mnist:50,0', { seed: 1, standardize: true });
    expect(split.test).toBeUndefined();
    expect(split.normalization!.xMean).toHaveLength(784);
    expect(split.normalization!.yMean).toBeUndefined();
  });
});
