// `push-ens devices`: the devices and backends available on this machine, and
// what is missing for the native (libtensorflow) and CUDA backends.
import * as os from 'node:os';
import { Command } from 'commander';
import type * as Tf from '../../util/tf';
import { TFJS_NODE_GPU_INSTALL } from '../../util/backends';
import { listGpus } from '../../util/gpus';
import { OutputMode, emitResult, formatTable } from '../output';
import { NatsFlags, addNatsFlags, natsOptionsFromFlags } from '../nats-flags';
import { collectClusterDevices, formatClusterDevices } from './cluster-devices';

export interface BackendReport {
  name: 'wasm' | 'cpu' | 'tensorflow';
  available: boolean;
  detail: string;
}

export interface DevicesReport {
  cpus: number;
  /** A device list with one cpu device per core: one worker thread each. */
  suggestedDevices: string;
  backends: BackendReport[];
  cuda: {
    available: boolean;
    gpus: string[];
    /** @tensorflow/tfjs-node-gpu resolves here. */
    tfjsNodeGpu: boolean;
    /** What is missing, one entry per missing piece. */
    missing: string[];
  };
}

interface DevicesOptions extends NatsFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

export function registerDevices(program: Command, mode: (o: DevicesOptions) => OutputMode): void {
  const cmd = program
    .command('devices')
    .summary('list the devices and backends available here')
    .description(
      'List the devices and backends available on this machine: the CPU count (and a --devices list ' +
        'with one cpu:N per core), the wasm and cpu backends, and whether the native "tensorflow" ' +
        'backend and CUDA devices can be used, with what to install if not.',
    )
    .option('--json', 'print one JSON object on stdout')
    .option('-q, --quiet', 'print only the result')
    .option('-v, --verbose', 'print debug logs and stack traces');
  // With --nats: the worker hosts on that NATS system instead of this machine.
  addNatsFlags(cmd).action(async (opts: DevicesOptions) => {
      const nats = natsOptionsFromFlags(opts);
      if (nats) {
        const cluster = await collectClusterDevices(nats);
        emitResult(mode(opts), cluster as unknown as Record<string, unknown>, () => formatClusterDevices(cluster));
        return;
      }
      const report = await collectDevices();
      emitResult(mode(opts), report as unknown as Record<string, unknown>, () => formatDevices(report));
    });
}

export async function collectDevices(): Promise<DevicesReport> {
  const cpus = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const suggestedDevices = Array.from({ length: cpus }, (_, i) => `cpu:${i}`).join(',');
  const { TFJS_NODE_INSTALL_HINT, resolveTfjsNode, useBackend } = require('../../util/tf') as typeof Tf;
  const backends: BackendReport[] = [];
  for (const name of ['wasm', 'cpu'] as const) {
    try {
      await useBackend(name);
      backends.push({ name, available: true, detail: name === 'wasm' ? `WebAssembly kernels (the default for cpu:N devices)` : 'plain JavaScript kernels' });
    } catch (err) {
      backends.push({ name, available: false, detail: `failed to initialise: ${(err as Error).message}` });
    }
  }
  const cpuPkg = resolveTfjsNode(false);
  const gpuPkg = resolvesGpuPackage();
  backends.push(
    cpuPkg
      ? { name: 'tensorflow', available: true, detail: `native libtensorflow via ${cpuPkg} (workers run as child processes)` }
      : { name: 'tensorflow', available: false, detail: `@tensorflow/tfjs-node is not installed: ${TFJS_NODE_INSTALL_HINT}` },
  );
  const gpus = listGpus();
  const missing: string[] = [];
  if (!gpuPkg) missing.push(`@tensorflow/tfjs-node-gpu is not installed: install ${TFJS_NODE_GPU_INSTALL}`);
  if (gpus.length === 0) missing.push('no NVIDIA GPU found (nvidia-smi is missing or lists no GPU; CUDA 11.2 and cuDNN 8.1 drivers are needed)');
  return {
    cpus,
    suggestedDevices,
    backends,
    cuda: { available: missing.length === 0, gpus, tfjsNodeGpu: gpuPkg, missing },
  };
}

function resolvesGpuPackage(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
}

export function formatDevices(r: DevicesReport): string {
  const lines: string[] = [];
  lines.push(`CPU cores: ${r.cpus}  (suggested: --devices ${r.suggestedDevices}, one device worker per core)`);
  lines.push('');
  const rows = r.backends.map((b) => [b.name, b.available ? 'yes' : 'no', b.detail.split(': ')[0]]);
  lines.push(formatTable(['backend', 'available', 'detail'], rows, ['l', 'l', 'l']));
  for (const b of r.backends) if (!b.available && b.detail.includes(': ')) lines.push(`  ${b.name}: ${b.detail.split(': ').slice(1).join(': ')}`);
  lines.push('');
  if (r.cuda.available) {
    lines.push(`CUDA: yes, ${r.cuda.gpus.length} GPU(s): use --devices ${r.cuda.gpus.map((_, i) => `cuda:${i}`).join(',')}`);
    for (const g of r.cuda.gpus) lines.push(`  ${g}`);
  } else {
    lines.push('CUDA: no (cuda:N devices are unavailable)');
    for (const m of r.cuda.missing) lines.push(`  missing: ${m}`);
  }
  return lines.join('\n');
}
