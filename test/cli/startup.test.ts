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
