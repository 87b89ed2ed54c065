import { numExamples } from '../../src/data/dataset';
import { describeDataSpecs, loadDataset, parseDataSpec } from '../../src/data/specs';
import { TempDir, inputErrorMessage } from './temp-files';

describe('parseDataSpec', () => {
  test('parses every form with its defaults', () => {
    expect(parseDataSpec('seed-random')).toEqual({ kind: 'seed-random', text: 'seed-random', dim: 20 });
    expect(parseDataSpec('seed-random:7')).toMatchObject({ dim: 7 });
    expect(parseDataSpec('toy')).toEqual({ kind: 'toy', text: 'toy' });
    expect(parseDataSpec('sine').kind).toBe('sine');
    expect(parseDataSpec('two-moons')).toMatchObject({ n: 512 });
    expect(parseDataSpec('two-moons:64')).toMatchObject({ n: 64 });
    expect(parseDataSpec('mnist')).toMatchObject({ train: 8000, test: 2000 });
    expect(parseDataSpec('mnist:100,0')).toMatchObject({ train: 100, test: 0 });
    expect(parseDataSpec('csv:data/houses.csv')).toEqual({ kind: 'csv', text: 'csv:data/houses.csv', path: 'data/houses.csv' });
    expect(parseDataSpec('csv:data/houses.csv:price')).toMatchObject({ path: 'data/houses.csv', target: 'price' });
    expect(parseDataSpec('mnist:0,2000')).toMatchObject({ train: 0, test: 2000 });
    expect(parseDataSpec('fashion-mnist')).toEqual({ kind: 'fashion-mnist', text: 'fashion-mnist', train: 60000, test: 10000 });
    expect(parseDataSpec('idx:a/im.gz')).toEqual({ kind: 'idx', text: 'idx:a/im.gz', images: 'a/im.gz' });
    expect(parseDataSpec('idx:a,b/im.gz,lab.gz')).toMatchObject({ images: 'a,b/im.gz', labels: 'lab.gz' });
    expect(parseDataSpec('mnist:0,2000+rotate:45')).toEqual({
      kind: 'mnist', text: 'mnist:0,2000+rotate:45', train: 0, test: 2000, shifts: [{ kind: 'rotate', degrees: 45 }],
    });
    expect(parseDataSpec('idx:x+y.idx+noise:0.3+blank+rotate:-90')).toMatchObject({
      images: 'x+y.idx', shifts: [{ kind: 'noise', sigma: 0.3 }, { kind: 'blank' }, { kind: 'rotate', degrees: -90 }],
    });
    // A CSV path may hold "+blank": csv specs take no shifts.
    expect(parseDataSpec('csv:a+blank')).toMatchObject({ kind: 'csv', path: 'a+blank' });
    expect(parseDataSpec('csv:C:\\data\\houses.csv')).toEqual({ kind: 'csv', text: 'csv:C:\\data\\houses.csv', path: 'C:\\data\\houses.csv' });
  });

  test.each([
    ['seed-random:0', /D is "0", expected an integer in \[1, 10000\]/],
    ['seed-random:2.5', /D is "2.5"/],
    ['two-moons:x', /N is "x", expected an integer/],
    ['mnist:9000,5000', /TRAIN\+TEST is 14000, expected at most 10000/],
    ['mnist:100', /expected mnist:TRAIN,TEST/],
    ['mnist:x,10', /TRAIN is "x"/],
    ['fashion-mnist:60001,0', /TRAIN is "60001", expected an integer in \[0, 60000\]/],
    ['fashion-mnist:5', /expected fashion-mnist:TRAIN,TEST/],
    ['idx:', /idx needs an IDX images file/],
    ['idx:a.idx,', /expected idx:IMAGES,LABELS/],
    ['two-moons+blank', /apply to image specs \(mnist, fashion-mnist, idx\), not two-moons/],
    ['toy:3', /toy takes no parameters/],
    ['csv:', /csv needs a file path/],
    ['csv:a.csv:', /target column name/],
    ['imagenet', /unknown data spec "imagenet"/],
  ])('%s is a one-line error listing the valid forms', (spec, problem) => {
    const msg = inputErrorMessage(() => parseDataSpec(spec));
    expect(msg).toMatch(problem);
    expect(msg).toContain('seed-random[:D], toy, sine, two-moons[:N], mnist[:TRAIN,TEST], fashion-mnist[:TRAIN,TEST], idx:IMAGES[,LABELS], csv:PATH[:TARGET]');
    expect(msg).not.toContain('\n');
  });

  test.each([
    ['mnist+rotate:x', /rotate needs an angle in degrees, got "x"/],
    ['mnist+noise:-1', /noise needs SIGMA in \[0, 1000\]/],
    ['mnist+blank:3', /blank takes no parameter/],
  ])('%s is a one-line error listing the shifts', (spec, problem) => {
    const msg = inputErrorMessage(() => parseDataSpec(spec));
    expect(msg).toMatch(problem);
    expect(msg).toContain('shifts are rotate:DEG, noise:SIGMA, blank');
    expect(msg).not.toContain('\n');
  });

  test('describeDataSpecs lists every form', () => {
    const help = describeDataSpecs();
    for (const form of ['seed-random[:D]', 'toy', 'sine', 'two-moons[:N]', 'mnist[:TRAIN,TEST]', 'fashion-mnist[:TRAIN,TEST]', 'idx:IMAGES[,LABELS]', '+rotate:DEG', 'csv:PATH[:TARGET]']) {
      expect(help).toContain(form);
    }
  });
});

describe('loadDataset', () => {
  test.each([
    ['seed-random', 'regression', [20], [1], 1280],
    ['seed-random:3', 'regression', [3], [1], 1280],
    ['toy', 'regression', [1], [1], 128],
    ['sine', 'regression', [1], [1], 256],
    ['two-moons', 'classification', [2], [], 512],
    ['two-moons:101', 'classification', [2], [], 101],
  ])('%s has the right shapes, a 20%% test split, and is deterministic for a seed', (spec, task, xDims, yDims, total) => {
    const split = loadDataset(spec, { seed: 42 });
    const { train, test } = split;
    expect(train.task).toBe(task);
    expect(train.name).toBe(spec);
    const numTest = Math.round(total * 0.2);
    expect(train.xShape).toEqual([total - numTest, ...xDims]);
    expect(test!.xShape).toEqual([numTest, ...xDims]);
    expect(train.yShape).toEqual([total - numTest, ...yDims]);
    expect(split.normalization).toBeUndefined();
    expect(loadDataset(spec, { seed: 42 })).toEqual(split);
    expect(Array.from(loadDataset(spec, { seed: 43 }).train.x.subarray(0, 8))).not.toEqual(Array.from(train.x.subarray(0, 8)));
  });

  test('toy and sine follow their formulas within the noise', () => {
    const toy = loadDataset('toy', { seed: 1, testFraction: 0 }).train;
    toy.x.forEach((x, i) => {
      expect(x).toBeGreaterThanOrEqual(-0.5);
      expect(x).toBeLessThan(1);
      expect(Math.abs(toy.y[i] - (0.5 * Math.sin(4 * x) + x))).toBeLessThan(0.05 * 5);
    });
    const sine = loadDataset('sine', { seed: 1, testFraction: 0 }).train;
    let sq = 0;
    sine.x.forEach((x, i) => {
      expect(Math.abs(x)).toBeLessThanOrEqual(3);
      sq += (sine.y[i] - Math.sin(x)) ** 2;
    });
    expect(Math.sqrt(sq / 256)).toBeCloseTo(0.1, 1);
  });

  test('seed-random inputs and targets are standard normal', () => {
    const { train } = loadDataset('seed-random:10', { seed: 9, testFraction: 0 });
    const mean = train.x.reduce((a, b) => a + b, 0) / train.x.length;
    const variance = train.x.reduce((a, b) => a + (b - mean) ** 2, 0) / train.x.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(variance).toBeGreaterThan(0.9);
    expect(variance).toBeLessThan(1.1);
  });

  test('two-moons: half of each class, each near its half circle', () => {
    const { train } = loadDataset('two-moons:400', { seed: 3, testFraction: 0 });
    expect(train.numClasses).toBe(2);
    const ones = train.y.reduce((a, b) => a + b, 0);
    expect(ones).toBe(200);
    // Distance from the class's circle centre is 1 plus noise: |N(0, 0.1)| averages 0.08.
    let offCircle = 0;
    for (let i = 0; i < 400; i++) {
      const [px, py] = [train.x[2 * i], train.x[2 * i + 1]];
      const [cx, cy] = train.y[i] === 0 ? [0, 0] : [1, 0.5];
      offCircle += Math.abs(Math.hypot(px - cx, py - cy) - 1);
      // Upper moon above its centre, lower moon below its centre (up to noise).
      expect(train.y[i] === 0 ? py - cy : cy - py).toBeGreaterThan(-0.4);
    }
    expect(offCircle / 400).toBeLessThan(0.11);
  });

  test('testFraction 0 gives no test set; other fractions are honoured', () => {
    expect(loadDataset('toy', { seed: 1, testFraction: 0 }).test).toBeUndefined();
    expect(numExamples(loadDataset('toy', { seed: 1, testFraction: 0.5 }).test!)).toBe(64);
    expect(inputErrorMessage(() => loadDataset('toy', { seed: 1, testFraction: -0.1 }))).toMatch(/test fraction -0.1/);
  });

  test('standardize uses train statistics for inputs and regression targets', () => {
    const raw = loadDataset('sine', { seed: 4 });
    const split = loadDataset('sine', { seed: 4, standardize: true });
    const norm = split.normalization!;
    const trainMean = raw.train.x.reduce((a, b) => a + b, 0) / raw.train.x.length;
    expect(norm.xMean[0]).toBeCloseTo(trainMean, 5);
    expect(norm.yMean).toHaveLength(1);
    expect(split.test!.x[0]).toBeCloseTo((raw.test!.x[0] - norm.xMean[0]) / norm.xStd[0], 5);
    expect(split.train.y[0]).toBeCloseTo((raw.train.y[0] - norm.yMean![0]) / norm.yStd![0], 5);
    const moons = loadDataset('two-moons:64', { seed: 4, standardize: true });
    expect(moons.normalization!.yMean).toBeUndefined();
    expect(new Set(moons.train.y)).toEqual(new Set([0, 1]));
  });

  test('a task that does not fit the spec is an input error', () => {
    expect(inputErrorMessage(() => loadDataset('toy', { seed: 1, task: 'classification' }))).toMatch(
      /task classification does not fit data spec "toy", which is regression/,
    );
    expect(inputErrorMessage(() => loadDataset('two-moons', { seed: 1, task: 'regression' }))).toMatch(/which is classification/);
  });

  describe('csv specs', () => {
    let tmp: TempDir;
    beforeAll(() => {
      tmp = new TempDir();
    });
    afterAll(() => tmp.remove());

    test('load with a named target, split and seeded', () => {
      const rows = Array.from({ length: 20 }, (_, i) => `${i},${i * 2},${i % 3}`);
      const file = tmp.write('data.csv', ['a,b,kind', ...rows].join('\n'));
      const spec = `csv:${file}:b`;
      const split = loadDataset(spec, { seed: 1 });
      expect(split.train.name).toBe(spec);
      expect(split.train.featureNames).toEqual(['a', 'kind']);
      expect(split.train.xShape).toEqual([16, 2]);
      expect(split.test!.yShape).toEqual([4, 1]);
      expect(loadDataset(spec, { seed: 1 })).toEqual(split);
      const labels = loadDataset(`csv:${file}`, { seed: 1, task: 'classification' });
      expect(labels.train.numClasses).toBe(3);
    });

    test('bad values in a csv are reported', () => {
      const file = tmp.write('bad.csv', 'a,b\n1,2\n3,x\n');
      expect(inputErrorMessage(() => loadDataset(`csv:${file}`, { seed: 1 }))).toMatch(/bad\.csv row 3, column 2: expected a number/);
    });
  });
});
