// Which NVIDIA GPUs this machine shows, without loading TensorFlow.js: for
// `push-ens devices` and for the error when cuda:N cannot run.
import type * as ChildProcess from 'node:child_process';
import * as fs from 'node:fs';

/** GPU names from `nvidia-smi -L`, else the driver's /proc entries, else none. */
export function listGpus(): string[] {
  try {
    // Required here: worker plans (and the CLI's early thread start) load this module, and rarely list GPUs.
    const { execFileSync } = require('node:child_process') as typeof ChildProcess;
    const out = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^GPU \d+/.test(l));
  } catch {
    return fs.existsSync('/proc/driver/nvidia/gpus') ? fs.readdirSync('/proc/driver/nvidia/gpus').map((g) => `GPU at ${g}`) : [];
  }
}
