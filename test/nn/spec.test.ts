// Model specs: builders, parameter counts and layouts, validation errors.
import { PushInputError } from '../../src/util/errors';
import { biggerNN, compileModel, lenet, dense, mlp, resolveMlp, sequential, sequentialIO, validateSpec } from '../../src/nn';
import { modelHasDropout, modelIO } from '../../src/nn/model-io';

describe('model spec builders', () => {
  test('biggerNN(10, 20) is the Push tutorial BiggerNN: 8,421 parameters, no activation between blocks', () => {
    const spec = biggerNN(10, 20);
    expect(spec.inputShape).toEqual([20]);
    expect(spec.layers).toHaveLength(31);
    expect(spec.layers.slice(0, 6).map((l) => l.type)).toEqual(['dense', 'relu', 'dense', 'dense', 'relu', 'dense']);
    expect(spec.layers[30]).toEqual({ type: 'dense', units: 1 });
    const net = compileModel(spec);
    expect(net.numParams).toBe(8421);
    expect(net.outputSize).toBe(1);
    expect(net.isDenseStack).toBe(true);
    expect(net.hasDropout).toBe(false);
  });

  test('layout: each dense layer is weight [in, out] then bias [out], one contiguous (in+1) x out block', () => {
    const net = compileModel(dense([3, 5, 2]));
    expect(net.layout).toEqual([
      { layer: 0, kind: 'weight', shape: [3, 5], offset: 0, size: 15 },
      { layer: 0, kind: 'bias', shape: [5], offset: 15, size: 5 },
      { layer: 2, kind: 'weight', shape: [5, 2], offset: 20, size: 10 },
      { layer: 2, kind: 'bias', shape: [2], offset: 30, size: 2 },
    ]);
    expect(net.numParams).toBe(32);
  });

  test('mlp puts the activation and dropout after hidden layers only', () => {
    const spec = dense([4, 8, 8, 3], { activation: 'tanh', dropout: 0.25 });
    expect(spec.layers.map((l) => l.type)).toEqual(['dense', 'tanh', 'dropout', 'dense', 'tanh', 'dropout', 'dense']);
    const net = compileModel(spec);
    expect(net.hasDropout).toBe(true);
    expect(net.isDenseStack).toBe(true);
    expect(net.outputSize).toBe(3);
  });

  test('lenet: [28, 28, 1] -> 10 logits, 61,706 parameters, conv weights in tfjs [kh, kw, inC, outC] layout', () => {
    const net = compileModel(lenet());
    expect(net.numParams).toBe(61706);
    expect(net.outputSize).toBe(10);
    expect(net.isDenseStack).toBe(false);
    expect(net.layout[0]).toEqual({ layer: 0, kind: 'weight', shape: [5, 5, 1, 6], offset: 0, size: 150 });
    expect(net.layout[2].shape).toEqual([5, 5, 6, 16]);
    expect(net.layout[4].shape).toEqual([400, 120]); // 5 * 5 * 16 after two 2x2 pools
  });

  test('specs survive JSON and compile to the same layout', () => {
    const spec = lenet();
    const again = compileModel(JSON.parse(JSON.stringify(spec)));
    expect(again.layout).toEqual(compileModel(spec).layout);
  });
});

describe('validateSpec', () => {
  const bad: [string, unknown, RegExp][] = [
    ['not an object', 42, /expected an object/],
    ['unknown format', { format: 'keras', inputShape: [2], layers: [] }, /format "keras"/],
    ['bad input shape', { format: 'push-ens/sequential', inputShape: [0], layers: [{ type: 'dense', units: 1 }] }, /inputShape \[0\]/],
    ['no layers', { format: 'push-ens/sequential', inputShape: [2], layers: [] }, /non-empty array/],
    ['unknown layer type', { format: 'push-ens/sequential', inputShape: [2], layers: [{ type: 'lstm' }] }, /layer 0 type "lstm": expected one of dense/],
    ['misspelt field', { format: 'push-ens/sequential', inputShape: [2], layers: [{ type: 'dense', unit: 3 }] }, /unknown field "unit"/],
    ['bad units', { format: 'push-ens/sequential', inputShape: [2], layers: [{ type: 'dense', units: 2.5 }] }, /units 2\.5: expected a positive integer/],
    ['dropout rate 1', { format: 'push-ens/sequential', inputShape: [2], layers: [{ type: 'dropout', rate: 1 }] }, /rate 1: expected a number in \[0, 1\)/],
    ['dense on an image', { format: 'push-ens/sequential', inputShape: [4, 4, 1], layers: [{ type: 'dense', units: 2 }] }, /add a flatten layer/],
    ['conv on a vector', { format: 'push-ens/sequential', inputShape: [8], layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }] }, /needs an image input/],
    ['kernel too big', { format: 'push-ens/sequential', inputShape: [4, 4, 1], layers: [{ type: 'conv2d', filters: 2, kernelSize: 5 }] }, /does not fit/],
    ['bad padding', { format: 'push-ens/sequential', inputShape: [4, 4, 1], layers: [{ type: 'maxPool2d', poolSize: 2, padding: 'full' }] }, /padding "full"/],
  ];
  test.each(bad)('rejects %s with a one-line PushInputError', (_name, spec, message) => {
    let caught: unknown;
    try {
      validateSpec(spec);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PushInputError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toContain('\n');
  });

  test('mlp takes hidden widths, as the CLI\'s mlp:H1,H2; sizes come from the data or from {inputs, outputs}', () => {
    const t = mlp([32, 32]);
    expect(t).toEqual({ format: 'push-ens/mlp', hidden: [32, 32], activation: 'relu', dropout: 0 });
    expect(resolveMlp(t, { inputShape: [784], outputSize: 10 })).toEqual(dense([784, 32, 32, 10]));
    expect(mlp([32, 32], { inputs: 784, outputs: 10 })).toEqual(dense([784, 32, 32, 10]));
    const img = mlp([8], { inputs: [28, 28, 1], outputs: 10 });
    expect(img.layers.map((l) => l.type)).toEqual(['flatten', 'dense', 'relu', 'dense']);
    // Without sizes it cannot be compiled directly: the error says how to give them.
    expect(() => compileModel(mlp([8]) as never)).toThrow(/mlp\(\[8\]\) has no input and output sizes.*training function.*\{ inputs, outputs \}/);
    expect(() => mlp([8], { inputs: 3 } as never)).toThrow(/needs both inputs and outputs/);
    expect(() => mlp([8, 0])).toThrow(/mlp hidden width #2 0: expected a positive integer/);
  });

  test('builders validate their arguments', () => {
    expect(() => biggerNN(2, 0)).toThrow(PushInputError);
    expect(() => dense([3])).toThrow(/at least 2 entries/);
    expect(() => dense([3, 2], { activation: 'swish' as never })).toThrow(/activation "swish"/);
    expect(() => sequential([2], [{ type: 'dense', units: 1 }])).not.toThrow();
  });
});

describe('model IO without TensorFlow.js (the coordinator thread)', () => {
  const specs = {
    'biggerNN(10, 20)': biggerNN(10, 20),
    'dense 784-256-256-10': dense([784, 256, 256, 10]),
    lenet: lenet(),
    'strided same convs, pools, dropout, flatten': sequential([17, 13, 3], [
      { type: 'conv2d', filters: 4, kernelSize: [3, 2], stride: 2, padding: 'same' },
      { type: 'relu' },
      { type: 'maxPool2d', poolSize: 2, stride: 1, padding: 'same' },
      { type: 'conv2d', filters: 5, kernelSize: 3 },
      { type: 'avgPool2d', poolSize: [2, 3] },
      { type: 'dropout', rate: 0.3 },
      { type: 'flatten' },
      { type: 'dense', units: 7 },
      { type: 'tanh' },
    ]),
  };

  test.each(Object.entries(specs))('%s: the same input shape, output width and parameter count as compileModel', (_name, spec) => {
    const net = compileModel(spec);
    expect(sequentialIO(spec)).toEqual({ inputShape: [...net.inputShape], outputSize: net.outputSize, numParams: net.numParams });
    expect(modelIO(spec)).toEqual(sequentialIO(spec));
    expect(modelHasDropout(spec)).toBe(net.hasDropout);
    net.dispose();
  });
});
