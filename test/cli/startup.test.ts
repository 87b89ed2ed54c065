// Start-up: the phase breakdown of `train --json` / `--verbose`, the device
// threads started ahead of the coordinator, and what each side loads.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './helpers';
import { HANDLERS, SMALL_MODEL } from '../runtime/helpers';
import { PushDist } from '../../src/runtime/coordinator';
import { prestartThreads, prestartedThreadCount, releasePrestartedThreads } from '../../src/runtime/links';
import { earlyThreadCount } from '../../src/cli/early-start';

jest.setTimeout(60_000);

const DIST_SRC = path.resolve(__dirname, '..', '..', 'src');
const PHASES = ['load', 'workersReady', 'dataSent', 'training', 'evaluation', 'checkpoint'];

/** Runs `code` in a fresh node (jest's module registry would hide what plain Node loads); returns its stdout parsed. */
function inFreshNode(code: string): Record<string, unknown> {
  return JSON.parse(execFileSync(process.execPath, ['-e', code], { cwd: DIST_SRC, encoding: 'utf8', timeout: 30_000 }));
}

describe('train phase breakdown', () => {
  test('--json reports every phase, adding up to the time since process start; --verbose prints them', async () => {
    const r = await runCli(['train', '--epochs', '2', '--particles', '2', '--out', path.join(os.tmpdir(), `startup-${process.pid}`), '--force', '--json', '--verbose']);
    expect(r.stderr).toMatch(/phases: load \d+ ms, workers ready \d+ ms, data sent \d+ ms, training \d+ ms, evaluation \d+ ms, checkpoint \d+ ms \(first step sent at \d+ ms/);
    expect(r.code).toBe(0);
    const phases = JSON.parse(r.stdout).phases as Record<string, number>;
    for (const p of PHASES) expect(phases[p]).toBeGreaterThanOrEqual(0);
    expect(phases.load).toBeGreaterThan(0);
    expect(phases.training).toBeGreaterThan(0);
    expect(phases.checkpoint).toBeGreaterThan(0); // --out writes the final checkpoint
    const sum = PHASES.reduce((s, p) => s + phases[p], 0);
    expect(Math.abs(sum - phases.totalMs)).toBeLessThan(1);
    // The first round leaves right after the data is sent (each figure rounded to 0.1 ms).
    expect(Math.abs(phases.firstStepAtMs - (phases.load + phases.workersReady + phases.dataSent))).toBeLessThan(5);
    expect(phases.totalMs).toBeLessThan(r.ms + 1000);
    fs.rmSync(path.join(os.tmpdir(), `startup-${process.pid}`), { recursive: true, force: true });
  });
});

describe('what start-up loads', () => {
  test('util/tf registers every gradient at the first autodiff, not at import or useBackend, without the packages the union bundle only re-exports', () => {
    const out = inFreshNode(`
      const { tf, useBackend } = require('./util/tf');
      const loaded = (p) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + p + '/'));
      const bundleAtImport = loaded('@tensorflow/tfjs');
      useBackend('wasm').then(() => {
        const bundleAtBackend = loaded('@tensorflow/tfjs');
        const gradsBefore = tf.getGradient('Relu') !== undefined;
        const g = tf.grad((x) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, 2, 3])).arraySync();
        const skipped = ['@tensorflow/tfjs-layers', '@tensorflow/tfjs-converter', '@tensorflow/tfjs-data', '@tensorflow/tfjs-backend-webgl'].filter(loaded);
        const grads = ['Conv2D', 'BatchMatMul', 'Relu', 'MaxPool', 'Sum'].filter((k) => tf.getGradient(k) !== undefined).length;
        // Later autodiff runs through the engine's own method again.
        const own = Object.prototype.hasOwnProperty.call(tf.engine(), 'gradients');
        const g2 = tf.valueAndGrads((x) => tf.sum(tf.relu(x)))([tf.tensor1d([1, -2, 3])]).grads[0].arraySync();
        const layers = typeof require('@tensorflow/tfjs-layers').sequential;
        console.log(JSON.stringify({ bundleAtImport, bundleAtBackend, gradsBefore, skipped, grads, g, own, g2, layers, chained: typeof tf.ones([2]).reshape }));
      });`);
    expect(out).toEqual({
      bundleAtImport: false,
      bundleAtBackend: false,
      gradsBefore: false,
      skipped: [],
      grads: 5,
      g: [2, 4, 6],
      own: false,
      g2: [1, 0, 1],
      layers: 'function',
      chained: 'function',
    });
  });

  test('the cpu backend loads only when useBackend chooses it', () => {
    const out = inFreshNode(`
      const loaded = (p) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + p + '/'));
      const { tf, useBackend } = require('./util/tf');
      const atImport = loaded('@tensorflow/tfjs-backend-cpu');
      useBackend('wasm').then(async () => {
        const withWasm = loaded('@tensorflow/tfjs-backend-cpu');
        await useBackend('cpu');
        console.log(JSON.stringify({ atImport, withWasm, cpu: tf.getBackend(), sum: tf.sum(tf.tensor1d([1, 2])).arraySync() }));
      });`);
    expect(out).toEqual({ atImport: false, withWasm: false, cpu: 'cpu', sum: 3 });
  });

  test.each(['thread', 'process'])('a handler differentiating with tfjs directly gets every gradient in a device %s', async (isolation) => {
    const dist = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, handlers: HANDLERS, isolation });
    try {
      const pid = dist.createParticle();
      expect(await dist.launch<number[]>(pid, 'gradOfSquares', [1, -2, 3])).toEqual([2, -4, 6]);
    } finally {
      await dist.close();
    }
  });

  test('planning workers on the coordinator side does not load TensorFlow.js', () => {
    const out = inFreshNode(`
      const { planWorker } = require('./runtime/worker-plan');
      const { parseDeviceList } = require('./runtime/devices');
      const plan = planWorker(parseDeviceList('cpu:0')[0], { backend: 'wasm', isolation: 'thread' });
      console.log(JSON.stringify({ transport: plan.transport, tf: Object.keys(require.cache).some((f) => f.includes('@tensorflow')) }));`);
    expect(out).toEqual({ transport: 'thread', tf: false });
  });
});

describe('what start-up loads on the CLI side', () => {
  test('a command line loads the module of its own command only; help and unknown commands get all eight', () => {
    const out = inFreshNode(`
      const { buildProgram } = require('./cli/main');
      const loaded = () => Object.keys(require.cache).filter((f) => f.includes('/cli/commands/')).map((f) => f.replace(/.*\\/commands\\//, '')).sort();
      const train = buildProgram('train').commands.map((c) => c.name());
      const trainModules = loaded();
      const all = buildProgram('trian').commands.map((c) => c.name());
      console.log(JSON.stringify({ train, trainModules, all, allModules: loaded() }));`);
    const commands = ['train', 'predict', 'eval', 'plot', 'calibrate', 'export', 'devices', 'worker'];
    expect(out).toEqual({ train: ['train'], trainModules: ['train.js'], all: commands, allModules: expect.arrayContaining(commands.map((c) => `${c}.js`)) });
  });

  test.each([
    [['train', '--particles', '8', '--devices', 'cpu:0,cpu:1'], 2],
    [['train'], 1],
    [['train', '--devices=cpu:0,cpu:1,cpu:2', '--backend', 'cpu'], 3],
    [['train', '--devices', 'cpu:0,cpu:1', '--isolation', 'process'], 0],
    [['train', '--devices', 'cpu:0,cpu:1', '--backend', 'tensorflow'], 0],
    [['train', '--devices', 'cuda:0,cpu:1'], 1],
    [['train', '--devices', 'hostA/cpu:0,cpu:1', '--nats', 'nats://127.0.0.1:4222'], 1],
    [['train', '--resume', 'run1'], 0],
    [['train', '--devices', 'cpu:0', '--help'], 0],
    [['train', '--devices', 'gpu:0'], 0],
    [['train', '--devices'], 0],
    [['train', '--backend', 'nonsense'], 0],
    [['predict', '--devices', 'cpu:0'], 0],
    [[], 0],
  ])('early device threads for push-ens %j: %d', (args, threads) => {
    expect(earlyThreadCount(args)).toBe(threads);
  });

  test('train takes the threads it started early and leaves none behind', async () => {
    const r = await runCli(['train', '--epochs', '1', '--particles', '2', '--devices', 'cpu:0,cpu:1', '--json', '--verbose']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/device threads: 2 started at launch, 0 now/);
    expect(JSON.parse(r.stdout).phases.training).toBeGreaterThan(0);
    // A resumed run's devices come from its checkpoint: its threads start once that is read.
    const dir = path.join(os.tmpdir(), `startup-early-${process.pid}`);
    expect((await runCli(['train', '--epochs', '1', '--particles', '2', '--devices', 'cpu:0,cpu:1', '--out', dir, '--force', '--quiet'])).code).toBe(0);
    const resumed = await runCli(['train', '--resume', dir, '--epochs', '2', '--json', '--verbose']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/device threads: 0 started at launch, 2 now/);
    fs.rmSync(dir, { recursive: true, force: true });
    const bad = await runCli(['train', '--devices', 'cpu:0,cpu:1', '--epochs', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--epochs/);
  });
});

describe('prestarted device threads', () => {
  afterEach(() => releasePrestartedThreads());

  test('the next thread device takes a prestarted thread and trains on it', async () => {
    prestartThreads(1);
    expect(prestartedThreadCount()).toBe(1);
    const dist = await PushDist.create({ devices: 'cpu:0', model: { format: 'push-ens/sequential', inputShape: [3], layers: [{ type: 'dense', units: 2 }] }, backend: 'cpu' });
    try {
      expect(prestartedThreadCount()).toBe(0);
      const pid = dist.createParticle();
      const data = { x: new Float32Array(12), xShape: [4, 3], y: new Float32Array(8), yShape: [4, 2] };
      expect(await dist.launch<number>(pid, 'pushSetData', 'k', data)).toBe(4);
      const [losses] = await dist.launch<number[][]>(pid, 'pushTrainEpochs', { key: 'k', pids: [pid], epochs: [0], batchSize: 2, loss: 'mse', seed: 1 });
      expect(Number.isFinite(losses[0])).toBe(true);
    } finally {
      await dist.close();
    }
  });

  test('threads nobody takes are ended by release and by their expiry', async () => {
    prestartThreads(2);
    releasePrestartedThreads();
    expect(prestartedThreadCount()).toBe(0);
    prestartThreads(1, 50);
    await new Promise((r) => setTimeout(r, 300));
    expect(prestartedThreadCount()).toBe(0);
  });
});
