// In-process unit tests of the CLI's parsing and formatting (no child processes).
import * as path from 'node:path';
import { PushInputError } from '../../src/util/errors';
import { biggerNN, dense, mlp } from '../../src/nn/spec';
import { parseInteger, parseNumber, parseNameList, parseSchedulerOption, parseBandwidth, show, TRAIN_DEFAULTS } from '../../src/cli/options';
import { countParameters, resolveModelSpec } from '../../src/cli/model-spec';
import { planTrain } from '../../src/cli/commands/train';
import { float32String, fmt, fmtInt, formatTable, toCsv } from '../../src/cli/output';
import { Progress, epochLine } from '../../src/cli/progress';
import { nest } from '../../src/cli/commands/predict';
import { chooseLoss, outputSizeFor } from '../../src/cli/data';
import { makeToy, makeTwoMoons } from '../../src/data/synthetic';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PushInputError);
    const m = (err as Error).message;
    expect(m).not.toContain('\n');
    return m;
  }
  throw new Error('expected a PushInputError');
}

describe('numbers', () => {
  test('parseInteger takes plain decimal whole numbers in range only', () => {
    expect(parseInteger('--n', '42', 1)).toBe(42);
    expect(parseInteger('--n', '+7', 0)).toBe(7);
    for (const bad of ['', ' 4', '4 ', '1e3', '0x10', '3.0', '-1', 'NaN', '99999999999999999999']) {
      expect(message(() => parseInteger('--n', bad, 0))).toBe(`--n ${JSON.stringify(bad)}: expected a whole number >= 0`);
    }
    expect(message(() => parseInteger('--n', '11', 1, 10))).toBe('--n "11": expected a whole number in [1, 10]');
  });

  test('parseNumber checks finiteness and the range, open or closed', () => {
    expect(parseNumber('--lr', '1e-3', { min: 0, minExclusive: true })).toBe(0.001);
    expect(parseNumber('--f', '.5', { min: 0, max: 1, maxExclusive: true })).toBe(0.5);
    expect(message(() => parseNumber('--lr', '0', { min: 0, minExclusive: true }))).toBe('--lr "0": expected a number > 0');
    expect(message(() => parseNumber('--f', '1', { min: 0, max: 1, maxExclusive: true }))).toBe('--f "1": expected a number in [0, 1)');
    expect(message(() => parseNumber('--x', 'Infinity'))).toBe('--x "Infinity": expected a number');
  });

  test('name lists, schedulers and bandwidths', () => {
    expect(parseNameList('--modes', 'mean, std', ['mean', 'std', 'pred'], 'modes')).toEqual(['mean', 'std']);
    expect(message(() => parseNameList('--modes', 'mean,,std', ['mean', 'std'], 'modes'))).toMatch(/expected a comma-separated list of modes/);
    expect(parseSchedulerOption('step:stepSize=5,gamma=0.5')).toEqual({ type: 'step', stepSize: 5, gamma: 0.5 });
    expect(parseSchedulerOption('linear')).toEqual({ type: 'linear' });
    expect(parseBandwidth('median')).toBe('median');
    expect(parseBandwidth('0.25')).toBe(0.25);
  });
});

describe('model specs', () => {
  const seedIO = { inputShape: [20], outputSize: 1 };

  test('biggerNN:10,20 on 20 inputs is exactly the seed network', () => {
    const r = resolveModelSpec('biggerNN:10,20', seedIO);
    expect(r.spec).toEqual(biggerNN(10, 20));
    expect(countParameters(r.spec)).toBe(8421);
  });

  test('biggerNN adapts its input and output sizes to the data', () => {
    const r = resolveModelSpec('biggerNN:2,8', { inputShape: [1], outputSize: 3 });
    expect(r.spec).toMatchObject({ inputShape: [1] });
    const layers = (r.spec as { layers: { type: string; units?: number }[] }).layers;
    expect(layers[0]).toEqual({ type: 'dense', units: 8 });
    expect(layers[layers.length - 1]).toEqual({ type: 'dense', units: 3 });
  });

  test('mlp takes its hidden widths; images are flattened first', () => {
    expect(resolveModelSpec('mlp:32,16', { inputShape: [4], outputSize: 2 }).spec).toEqual(dense([4, 32, 16, 2]));
    // The same network as the API's mlp([32, 16]) on the same data.
    expect(resolveModelSpec('mlp:32,16', { inputShape: [4], outputSize: 2 }).spec).toEqual(mlp([32, 16], { inputs: 4, outputs: 2 }));
    const img = resolveModelSpec('mlp:10', { inputShape: [28, 28, 1], outputSize: 10 }).spec as { layers: { type: string }[] };
    expect(img.layers[0]).toEqual({ type: 'flatten' });
  });

  test('lenet keeps its layers and takes the number of classes', () => {
    const r = resolveModelSpec('lenet', { inputShape: [28, 28, 1], outputSize: 10 });
    expect(countParameters(r.spec)).toBe(61706);
  });

  test('model files: a push-ens sequential spec, or a tfjs-layers model.json', () => {
    const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'cli');
    const own = resolveModelSpec(path.join(fixtures, 'one-input.json'), { inputShape: [1], outputSize: 1 });
    expect(own.spec).toMatchObject({ format: 'push-ens/sequential', inputShape: [1] });
    const layers = resolveModelSpec(path.join(fixtures, 'layers-model.json'), { inputShape: [1], outputSize: 1 });
    // Dense(8, tanh) -> Dense(1) has exact push-ens equivalents, so it converts.
    expect(layers.spec).toEqual({ format: 'push-ens/sequential', inputShape: [1], layers: [{ type: 'dense', units: 8 }, { type: 'tanh' }, { type: 'dense', units: 1 }] });
    expect(message(() => resolveModelSpec(path.join(fixtures, 'layers-model.json'), { inputShape: [1], outputSize: 3 }))).toMatch(/has 1 outputs, but the data and loss need 3/);
  });

  test('bad specs give one-line errors', () => {
    expect(message(() => resolveModelSpec('biggerNN:a,b', seedIO))).toMatch(/^model spec "biggerNN:a,b": L \(blocks\) is "a"/);
    expect(message(() => resolveModelSpec('', seedIO))).toMatch(/^model spec "": it is empty/);
    expect(message(() => resolveModelSpec('vgg', seedIO))).toMatch(/^unknown model spec "vgg"/);
  });
});

describe('planTrain', () => {
  test('no flags: the Push seed tutorial with 4 particles', () => {
    const plan = planTrain({});
    expect(plan).toMatchObject({
      algo: 'ensemble',
      particles: TRAIN_DEFAULTS.particles,
      data: { spec: 'seed-random', testFraction: 0.2, standardize: false },
      model: 'biggerNN:10,20',
      epochs: 10,
      batchSize: 128,
      seed: 0,
      checkpointEvery: 1,
    });
    expect(plan.particles).toBe(4);
    expect(plan.optimizer).toEqual({ type: 'adam', lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
  });

  test('mswag: --epochs counts all epochs, the last quarter collect by default', () => {
    expect(planTrain({ algo: 'mswag', epochs: '12' }).algoOptions).toEqual({ swagEpochs: 3 });
    expect(planTrain({ algo: 'mswag', epochs: '12', pretrainEpochs: '10' }).algoOptions).toEqual({ swagEpochs: 2 });
    expect(planTrain({ algo: 'mswag', epochs: '2' }).algoOptions).toEqual({ swagEpochs: 1 });
  });

  test('algorithm options map to the API', () => {
    expect(planTrain({ algo: 'ensemble', bootstrap: true, priorBeta: '3' }).algoOptions).toEqual({ bootstrap: true, randomPrior: { beta: 3 } });
    expect(planTrain({ algo: 'svgd', bandwidth: '2', temperature: '0.5', priorStd: '3' }).algoOptions).toEqual({ bandwidth: 2, temperature: 0.5, priorStd: 3 });
    expect(planTrain({ algo: 'mcdropout', dropout: '0.3', samples: '7' }).algoOptions).toEqual({ dropout: 0.3, numSamples: 7 });
    expect(planTrain({ optimizer: 'sgd', lr: '0.1', momentum: '0.9' }).optimizer).toMatchObject({ type: 'sgd', lr: 0.1, momentum: 0.9 });
  });
});

describe('loss and outputs', () => {
  test('the loss defaults by task and must fit it', () => {
    const toy = makeToy(1);
    const moons = makeTwoMoons(20, 1);
    expect(chooseLoss(undefined, 'regression', 'toy')).toBe('mse');
    expect(chooseLoss(undefined, 'classification', 'two-moons')).toBe('cross-entropy');
    expect(outputSizeFor(toy, 'gaussian-nll')).toBe(2);
    expect(outputSizeFor(moons, 'cross-entropy')).toBe(2);
    expect(message(() => chooseLoss('bce', 'classification', 'two-moons'))).toBe('--loss bce does not fit data "two-moons", which is classification: expected cross-entropy');
  });
});

describe('formatting', () => {
  test('numbers', () => {
    expect(fmt(0.123456)).toBe('0.1235');
    expect(fmt(12345678)).toBe('1.235e+7');
    expect(fmt(NaN)).toBe('-');
    expect(fmtInt(1234567)).toBe('1,234,567');
    expect(float32String(Math.fround(0.1))).toBe('0.1');
    expect(float32String(Math.fround(-0.02381516806781292))).toBe('-0.023815168');
    expect(Math.fround(Number(float32String(Math.fround(Math.PI))))).toBe(Math.fround(Math.PI));
    expect(float32String(3)).toBe('3');
  });

  test('tables and CSV', () => {
    expect(formatTable(['', 'rmse'], [['BMA', '0.1'], ['particle 0', '0.25']])).toBe('            rmse\nBMA          0.1\nparticle 0  0.25');
    expect(toCsv(['a', 'b,c'], [[1, 'x"y']])).toBe('a,"b,c"\n1,"x""y"\n');
    expect(nest([1, 2, 3, 4, 5, 6], [3, 2])).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  test('progress: plain lines, a bar redrawn in place, or nothing', () => {
    expect(epochLine({ epoch: 3, epochs: 10, loss: 0.91234, particleStepsPerSecond: 1234.4 })).toBe('epoch  3/10  loss 0.9123  1234 particle-steps/s');
    const out: string[] = [];
    const tty = { isTTY: true, columns: 60, write: (s: string) => out.push(s) };
    const bar = new Progress('bar', tty);
    bar.start(4);
    bar.epoch({ epoch: 1, epochs: 4, loss: 1.5, particleStepsPerSecond: 100 });
    bar.finish();
    expect(out[1]).toMatch(/^\r\x1b\[2Kepoch 1\/4 \[#+-+\] loss 1\.5 {2}100 particle-steps\/s/);
    expect(out.every((s) => s.replace(/^\r\x1b\[2K/, '').length < 60)).toBe(true);
    expect(out[out.length - 1]).toBe('\n');
    const none: string[] = [];
    const quiet = new Progress('none', { write: (s: string) => none.push(s) });
    quiet.epoch({ epoch: 1, epochs: 1, loss: 1, particleStepsPerSecond: 1 });
    expect(none).toEqual([]);
  });
});

describe('show', () => {
  it('quotes short values whole', () => {
    expect(show('a\nb')).toBe('"a\\nb"');
  });

  it('cuts a long path in the middle, so its file name stays visible', () => {
    const long = `csv:/${'deep/'.repeat(30)}curve-extra-column.csv`;
    const text = show(long);
    expect(text.length).toBeLessThanOrEqual(100);
    expect(text).toMatch(/^"csv:\/deep\/.*\.\.\..*curve-extra-column\.csv"$/);
  });
});
