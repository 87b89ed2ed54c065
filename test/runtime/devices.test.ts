import { parseDevice, parseDeviceList } from '../../src/runtime/devices';
import { planWorker, checkNativePackages } from '../../src/runtime/worker-plan';
import { PushInputError } from '../../src/util/errors';

describe('device strings', () => {
  test('parses cpu and cuda devices', () => {
    expect(parseDevice('cpu:0')).toEqual({ name: 'cpu:0', kind: 'cpu', index: 0 });
    expect(parseDevice(' cuda:12 ')).toEqual({ name: 'cuda:12', kind: 'cuda', index: 12 });
    expect(parseDeviceList('cpu:0,cpu:1').map((d) => d.name)).toEqual(['cpu:0', 'cpu:1']);
  });

  test.each(['gpu0', 'cuda:-1', 'cpu:x', 'cpu', 'cpu:01', 'tpu:0', 'cuda:1.5', ''])('rejects %j with a one-line error', (bad) => {
    expect(() => parseDeviceList([bad])).toThrow(PushInputError);
    try {
      parseDeviceList([bad]);
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
      expect((e as Error).message).toMatch(/device|expected/);
    }
  });

  test('rejects duplicates and empty lists', () => {
    expect(() => parseDeviceList('cpu:0,cpu:0')).toThrow(/duplicate device "cpu:0"/);
    expect(() => parseDeviceList([])).toThrow(/empty device list/);
    expect(() => parseDeviceList('')).toThrow(/empty device list/);
  });
});

describe('worker plans', () => {
  test('cuda:N is a child process bound to GPU N on the tensorflow backend', () => {
    const plan = planWorker(parseDevice('cuda:1'));
    expect(plan).toMatchObject({ transport: 'process', backend: 'tensorflow', nativePackage: '@tensorflow/tfjs-node-gpu' });
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe('1');
  });

  test('cpu devices are threads by default and processes with isolation "process"', () => {
    expect(planWorker(parseDevice('cpu:0'))).toMatchObject({ transport: 'thread', backend: 'wasm' });
    expect(planWorker(parseDevice('cpu:0'), { isolation: 'process', backend: 'cpu' })).toMatchObject({ transport: 'process', backend: 'cpu' });
  });

  test('the tensorflow backend on a cpu device runs in a process that hides GPUs', () => {
    const plan = planWorker(parseDevice('cpu:0'), { backend: 'tensorflow' });
    expect(plan).toMatchObject({ transport: 'process', nativePackage: '@tensorflow/tfjs-node' });
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe('');
  });

  test('bad backend and isolation values are rejected', () => {
    expect(() => planWorker(parseDevice('cpu:0'), { backend: 'webgl' })).toThrow(/unknown backend "webgl"/);
    expect(() => planWorker(parseDevice('cpu:0'), { isolation: 'fiber' })).toThrow(/bad isolation "fiber"/);
    expect(() => planWorker(parseDevice('cuda:0'), { backend: 'wasm' })).toThrow(/cuda:0 runs on the "tensorflow" backend/);
  });

  test('a cuda plan fails with an install hint when tfjs-node-gpu is missing, and passes when it resolves', () => {
    const plans = [planWorker(parseDevice('cuda:0'))];
    expect(() => checkNativePackages(plans, () => null)).toThrow(/cuda:0 needs @tensorflow\/tfjs-node-gpu.*npm install @tensorflow\/tfjs-node-gpu/);
    expect(() => checkNativePackages(plans, () => '@tensorflow/tfjs-node')).toThrow(/tfjs-node-gpu/);
    expect(() => checkNativePackages(plans, (gpu) => (gpu ? '@tensorflow/tfjs-node-gpu' : null))).not.toThrow();
  });

  test('the missing-GPU-package error says whether a GPU is visible, the CUDA/cuDNN versions and the CPU devices that run now', () => {
    const plans = ['cuda:0', 'cuda:1'].map((d) => planWorker(parseDevice(d)));
    const noGpu = () => checkNativePackages(plans, () => '@tensorflow/tfjs-node', () => []);
    expect(noGpu).toThrow(/no NVIDIA GPU is visible here.*--devices cpu:0,cpu:1.*@tensorflow\/tfjs-node-gpu@4\.22\.0` \(needs CUDA 11\.2 and cuDNN 8\.1/);
    // The CPU-only package is not offered as the fix for cuda:N.
    expect(noGpu).not.toThrow(/npm install @tensorflow\/tfjs-node@/);
    expect(() => checkNativePackages(plans, () => null, () => ['GPU 0: A100', 'GPU 1: A100'])).toThrow(/2 NVIDIA GPU\(s\) are visible here/);
  });
});
