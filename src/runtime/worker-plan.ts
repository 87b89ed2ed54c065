// How each device's worker is started: thread or process, backend, and the
// environment that binds it to its GPU. Pure, so it is testable without a GPU.
import { PushInputError } from '../util/errors';
import { BackendName, TFJS_NODE_GPU_INSTALL, TFJS_NODE_INSTALL_HINT, parseBackend, resolveTfjsNode } from '../util/backends';
import { listGpus } from '../util/gpus';
import { Device } from './devices';

export type Isolation = 'thread' | 'process';

export interface WorkerPlan {
  device: Device;
  /** 'nats': the device is served by a worker host over NATS (src/runtime/nats), which plans its own worker. */
  transport: 'thread' | 'process' | 'nats';
  backend: BackendName;
  /** Extra environment for a child process. */
  env: Record<string, string>;
  /** The tfjs-node package the worker must load, if any. */
  nativePackage?: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node';
}

export function parseIsolation(value: string): Isolation {
  if (value === 'thread' || value === 'process') return value;
  throw new PushInputError(`bad isolation ${JSON.stringify(value)}: expected "thread" or "process"`);
}

export function planWorker(device: Device, opts: { backend?: string; isolation?: string } = {}): WorkerPlan {
  const isolation = parseIsolation(opts.isolation ?? 'thread');
  if (device.host !== undefined) {
    // The worker host checks the backend and its native package against what it has installed.
    if (device.kind === 'cuda' && opts.backend !== undefined && opts.backend !== 'tensorflow') {
      throw new PushInputError(`device ${device.name} runs on the "tensorflow" backend, not ${JSON.stringify(opts.backend)}`);
    }
    return { device, transport: 'nats', backend: device.kind === 'cuda' ? 'tensorflow' : parseBackend(opts.backend ?? 'wasm'), env: {} };
  }
  if (device.kind === 'cuda') {
    if (opts.backend !== undefined && opts.backend !== 'tensorflow') {
      throw new PushInputError(`device ${device.name} runs on the "tensorflow" backend, not ${JSON.stringify(opts.backend)}`);
    }
    // libtensorflow picks its GPU once per process: one child process per GPU.
    return {
      device,
      transport: 'process',
      backend: 'tensorflow',
      env: { CUDA_VISIBLE_DEVICES: String(device.index) },
      nativePackage: '@tensorflow/tfjs-node-gpu',
    };
  }
  const backend = parseBackend(opts.backend ?? 'wasm');
  if (backend === 'tensorflow') {
    // tfjs-node cannot be loaded in a second worker thread, and a CPU device must not grab a GPU.
    return { device, transport: 'process', backend, env: { CUDA_VISIBLE_DEVICES: '' }, nativePackage: '@tensorflow/tfjs-node' };
  }
  return { device, transport: isolation, backend, env: {} };
}

/** Fails before any worker starts when a plan needs a tfjs-node package that is not installed. */
export function checkNativePackages(
  plans: WorkerPlan[],
  resolve: (gpu: boolean) => string | null = resolveTfjsNode,
  gpus: () => string[] = listGpus,
): void {
  for (const plan of plans) {
    if (!plan.nativePackage) continue;
    const wantGpu = plan.nativePackage === '@tensorflow/tfjs-node-gpu';
    const found = resolve(wantGpu);
    if (wantGpu && found !== '@tensorflow/tfjs-node-gpu') throw missingGpuPackage(plan.device.name, plans.length, gpus().length);
    if (!found) {
      throw new PushInputError(`backend "tensorflow" on ${plan.device.name} needs @tensorflow/tfjs-node, which is not installed: ${TFJS_NODE_INSTALL_HINT}`);
    }
  }
}

/**
 * cuda:N without tfjs-node-gpu: whether a GPU is visible (as `push-ens devices`
 * reports), the GPU package with its CUDA and cuDNN versions, and the CPU
 * device list that runs now.
 */
function missingGpuPackage(device: string, devices: number, visibleGpus: number): PushInputError {
  const cpus = Array.from({ length: devices }, (_, i) => `cpu:${i}`).join(',');
  const seen = visibleGpus > 0 ? `${visibleGpus} NVIDIA GPU(s) are visible here` : 'no NVIDIA GPU is visible here';
  return new PushInputError(
    `device ${device} needs @tensorflow/tfjs-node-gpu, which is not installed, and ${seen}: ` +
      `to run now on the CPU use --devices ${cpus}; for CUDA install ${TFJS_NODE_GPU_INSTALL}`,
  );
}
