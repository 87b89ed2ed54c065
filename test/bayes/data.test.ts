// normalizeData / fitDataToModel: every accepted form of data, and one-line errors for bad data.
import { loadDataset } from '../../src/data';
import { fitDataToModel, normalizeData, readInputs, readTargets } from '../../src/bayes/data';
import { withDropout } from '../../src/bayes/algorithms/mcdropout';
import { biggerNN, compileModel, dense, sequential } from '../../src/nn';
import { PushInputError } from '../../src/util/errors';
import { tf, useBackend } from '../../src/util/tf';

const io = (inputShape: number[], outputSize: number, loss: 'mse' | 'cross-entropy' | 'gaussian-nll' = 'mse') => ({ inputShape, outputSize, loss });

beforeAll(() => useBackend('cpu'));

describe('normalizeData', () => {
  test('nested arrays, typed arrays with shapes and tensors give the same arrays', () => {
    const nested = normalizeData({ x: [[1, 2], [3, 4], [5, 6]], y: [7, 8, 9] });
    const typed = normalizeData({ x: Float32Array.from([1, 2, 3, 4, 5, 6]), xShape: [3, 2], y: Float64Array.from([7, 8, 9]), yShape: [3] });
    const [tx, ty] = [tf.tensor2d([[1, 2], [3, 4], [5, 6]]), tf.tensor1d([7, 8, 9])];
    const tensors = normalizeData({ x: tx, y: ty });
    tf.dispose([tx, ty]);
    for (const d of [nested, typed, tensors]) {
      expect(Array.from(d.train.x)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(d.train.xShape).toEqual([3, 2]);
      expect(Array.from(d.train.y)).toEqual([7, 8, 9]);
      expect(d.train.yShape).toEqual([3]);
    }
    const fitted = fitDataToModel(nested, io([2], 1));
    expect(fitted.train.yShape).toEqual([3, 1]); // targets shaped for the model's output
    expect(fitted.task).toBe('regression');
  });

  test('a flat typed array without a shape takes the model input shape; a list of scalars is one feature', () => {
    expect(normalizeData({ x: new Float32Array(8), y: new Float32Array(4) }, [2]).train.xShape).toEqual([4, 2]);
    expect(normalizeData({ x: [0.1, 0.2, 0.3], y: [1, 2, 3] }).train.xShape).toEqual([3, 1]);
  });

  test('a Dataset and a DataSplit keep task, classes, test split and normalisation', () => {
    const split = loadDataset('two-moons:40', { seed: 1, testFraction: 0.25, standardize: true });
    const d = normalizeData(split);
    expect(d.task).toBe('classification');
    expect(d.numClasses).toBe(2);
    expect(d.train.xShape).toEqual([30, 2]);
    expect(d.test!.xShape).toEqual([10, 2]);
    expect(d.normalization!.xMean.length).toBe(2);
    const fitted = fitDataToModel(d, io([2], 2, 'cross-entropy'));
    expect(fitted.numClasses).toBe(2);
    expect(normalizeData(split.train).name).toBe('two-moons:40');
  });

  test('one-hot class targets become labels', () => {
    const d = fitDataToModel(normalizeData({ x: [[0], [1], [2]], y: [[0, 1], [1, 0], [0, 1]] }), io([1], 2, 'cross-entropy'));
    expect(Array.from(d.train.y)).toEqual([1, 0, 1]);
  });
});

describe('bad data gets one-line errors naming the value and what was expected', () => {
  const fit = (data: Parameters<typeof normalizeData>[0], m: ReturnType<typeof io>) => () => fitDataToModel(normalizeData(data, m.inputShape), m);
  test.each([
    ['ragged rows', fit({ x: [[1, 2], [3]], y: [1, 2] }, io([2], 1)), /data\.x\[1\] has 1 entries: expected 2/],
    ['input size', fit({ x: [[1, 2, 3]], y: [1] }, io([2], 1)), /rows of shape \[3\] \(3 values\) but the model takes inputs of shape \[2\]/],
    ['row counts', fit({ x: [[1, 2], [3, 4]], y: [1] }, io([2], 1)), /2 inputs but 1 targets/],
    ['NaN input', fit({ x: [[1, NaN]], y: [1] }, io([2], 1)), /x: row 0, column 1 is NaN, expected a finite number/],
    ['Infinity target', fit({ x: [[1, 2]], y: [Infinity] }, io([2], 1)), /y: row 0, column 0 is Infinity/],
    ['label out of range', fit({ x: [[1], [2]], y: [0, 3] }, io([1], 3, 'cross-entropy')), /label at row 1 is 3, expected a class index in \[0, 2\]/],
    ['fractional label', fit({ x: [[1]], y: [0.5] }, io([1], 3, 'cross-entropy')), /label at row 0 is 0\.5/],
    ['target width', fit({ x: [[1]], y: [[1, 2]] }, io([1], 1)), /y has rows of 2 values: expected 1/],
    ['gaussian width', fit({ x: [[1]], y: [[1, 2]] }, io([1], 2, 'gaussian-nll')), /expected 1 \(half of the model's 2 outputs/],
    ['task vs loss', fit(loadDataset('two-moons:10', { seed: 1, testFraction: 0 }), io([2], 1)), /the data is classification but loss mse is for regression/],
    ['shape vs length', fit({ x: new Float32Array(5), xShape: [2, 2], y: [1, 2] }, io([2], 1)), /shape \[2, 2\] holds 4 values but the array has 5/],
    ['not numbers', fit({ x: [['a']] as never, y: [1] }, io([1], 1)), /data\.x\[0\]\[0\] is "a": expected a number/],
  ])('%s', (_name, run, message) => {
    expect(run).toThrow(PushInputError);
    expect(run).toThrow(message);
  });
});

describe('prediction inputs and targets', () => {
  test('readInputs checks the model input size; readTargets the labels', () => {
    expect(readInputs([[1, 2]], [2]).shape).toEqual([1, 2]);
    expect(() => readInputs([[1, 2, 3]], [2])).toThrow(/model takes inputs of shape \[2\]/);
    expect(Array.from(readTargets([1, 0], 2, 'classification', 3))).toEqual([1, 0]);
    expect(() => readTargets([1, 5], 2, 'classification', 3)).toThrow(/label at row 1 is 5/);
    expect(() => readTargets([1, 2, 3], 2, 'regression', 1)).toThrow(/y has 3 rows but x has 2/);
  });
});

describe('withDropout (MC dropout on any MLP)', () => {
  test('adds dropout after each hidden activation, not after the output', () => {
    const spec = withDropout(dense([3, 8, 8, 1]), 0.2);
    expect(spec.format).toBe('push-ens/sequential');
    const types = (spec as { layers: { type: string; rate?: number }[] }).layers.map((l) => (l.type === 'dropout' ? `dropout:${l.rate}` : l.type));
    expect(types).toEqual(['dense', 'relu', 'dropout:0.2', 'dense', 'relu', 'dropout:0.2', 'dense']);
    const net = compileModel(spec);
    expect(net.hasDropout).toBe(true);
    expect(net.numParams).toBe(compileModel(dense([3, 8, 8, 1])).numParams);
  });

  test('keeps a model that has dropout; rejects a model with no hidden activation', () => {
    const has = dense([3, 8, 1], { dropout: 0.3 });
    expect(withDropout(has, 0.1)).toBe(has);
    expect((withDropout(biggerNN(2, 4), 0.1) as { layers: unknown[] }).layers.length).toBe(2 * 4 + 1);
    expect(() => withDropout(sequential([2], [{ type: 'dense', units: 1 }]), 0.1)).toThrow(/needs a model with hidden activations/);
  });
});
