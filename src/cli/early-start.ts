// `push-ens train` starts its device threads as its first act, from the command
// line alone, so that each thread's Node bootstrap and TensorFlow.js loading
// (about 0.2 s of CPU) overlap the CLI's own module loading and data
// preparation instead of following them (docs/PERFORMANCE.md, start-up). The
// run's PushDist takes them; prestartDeviceThreads (common.ts) starts any the
// full parse finds missing, and threads nobody takes are ended.
//
// Only the plain case is read here: `train` with local cpu:N devices as worker
// threads. --help, --resume (devices may come from the checkpoint) and anything
// this reading does not understand start nothing early.
import { parseDeviceList } from '../runtime/devices';
import { planWorker } from '../runtime/worker-plan';
import type * as ThreadPools from '../runtime/thread-pools';
import { DEVICE_DEFAULTS } from './device-defaults';

const VALUE_FLAGS = new Set(['--devices', '--backend', '--isolation']);
const SKIP_FLAGS = new Set(['--help', '-h', '--resume']);

/** How many device threads `push-ens <args>` will start, when it is a train run that surely does; 0 otherwise. */
export function earlyThreadCount(args: readonly string[]): number {
  if (args[0] !== 'train') return 0;
  const given: Record<string, string> = {};
  for (let i = 1; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (SKIP_FLAGS.has(flag) || arg === '--') return 0;
    if (!VALUE_FLAGS.has(flag)) continue;
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) return 0;
    given[flag] = value;
  }
  try {
    // As resolveDevices: a cuda:N device takes the default backend as its own (tensorflow).
    const backend = given['--backend'];
    const isolation = given['--isolation'] ?? DEVICE_DEFAULTS.isolation;
    const devices = parseDeviceList(given['--devices'] ?? DEVICE_DEFAULTS.devices);
    return devices.map((d) => planWorker(d, { backend: backend ?? (d.kind === 'cuda' ? undefined : DEVICE_DEFAULTS.backend), isolation })).filter((p) => p.transport === 'thread' && Object.keys(p.env).length === 0).length;
  } catch {
    return 0; // bad flags: the full parse reports them
  }
}

let started = false;

/** Starts the device threads a train run will take (see earlyThreadCount). */
export function startDeviceThreadsEarly(argv: readonly string[] = process.argv): void {
  const count = earlyThreadCount(argv.slice(2));
  if (count === 0) return;
  started = true;
  (require('../runtime/thread-pools') as typeof ThreadPools).prestartThreads(count);
}

/** Ends early threads the command did not take (it failed, or never started its workers). */
export function releaseEarlyThreads(): void {
  if (started) (require('../runtime/thread-pools') as typeof ThreadPools).releasePrestartedThreads();
}
