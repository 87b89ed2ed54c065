// Pieces shared by the commands: the output flags, the device flags and
// their validation (before any worker starts).
import type { NatsOptions } from '../runtime/nats/options';
import { NatsFlags, addNatsFlags, natsOptionsFromFlags } from './nats-flags';
import * as os from 'node:os';
import { Command } from 'commander';
import { PushInputError } from '../util/errors';
import { parseDeviceList } from '../runtime/devices';
import type * as WorkerPlan from '../runtime/worker-plan';
import type * as Links from '../runtime/links';
import { OutputMode } from './output';
import { TRAIN_DEFAULTS, parseChoice, parseInteger, show } from './options';

/** The output flags every command has. */
export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

export type ModeOf = (flags: OutputFlags) => OutputMode;

/** The tail every checkpoint command shares: device and output flags, and an action running `run`. */
export function addPosteriorCommandTail<F extends { json?: boolean; quiet?: boolean; verbose?: boolean }>(
  cmd: Command,
  what: string,
  modeOf: ModeOf,
  run: (flags: F, mode: OutputMode) => Promise<void>,
): void {
  addDeviceFlags(cmd, what);
  addOutputFlags(cmd);
  cmd.action(async (flags: F) => {
    await run(flags, modeOf(flags));
  });
}

export function addOutputFlags(cmd: Command, json = true): Command {
  if (json) cmd.option('--json', 'print one JSON object on stdout and nothing else');
  return cmd.option('-q, --quiet', 'print nothing but the final result').option('-v, --verbose', 'print debug logs, and stack traces on errors');
}

export function addDeviceFlags(cmd: Command, what: string): Command {
  addNatsFlags(cmd);
  return cmd
    .option('--devices <list>', `devices to ${what} on, comma-separated cpu:N / cuda:N, or HOST/cpu:N on a worker host with --nats (default: ${TRAIN_DEFAULTS.devices})`)
    .option('--backend <name>', `backend of cpu:N devices: wasm, cpu or tensorflow (default: ${TRAIN_DEFAULTS.backend})`)
    .option('--isolation <kind>', `run cpu:N devices as worker threads or child processes: thread or process (default: ${TRAIN_DEFAULTS.isolation})`)
    .option('--cache-size <n>', 'particles per device kept live on the device; the rest wait in host memory (default: no limit)');
}

export interface DeviceChoice {
  devices: string[];
  backend: string;
  isolation: 'thread' | 'process';
  cacheSize?: number;
  /** NATS servers and credentials, when the list names remote devices (or --nats was given). */
  nats?: NatsOptions;
}

export interface DeviceFlags extends NatsFlags {
  devices?: string;
  backend?: string;
  isolation?: string;
  cacheSize?: string;
}

/** Parses the device flags and checks that every device can be started here (tfjs-node for tensorflow/cuda). */
export async function resolveDevices(flags: DeviceFlags, fallback?: Partial<DeviceChoice>): Promise<DeviceChoice> {
  const rawDevices = flags.devices ?? fallback?.devices?.join(',') ?? TRAIN_DEFAULTS.devices;
  let devices: string[];
  try {
    devices = parseDeviceList(rawDevices).map((d) => d.name);
  } catch (err) {
    if (err instanceof PushInputError) throw new PushInputError(`--devices ${show(rawDevices)}: ${err.message.replace(/^bad device /, 'device ')}`);
    throw err;
  }
  const backend = parseChoice('--backend', flags.backend ?? fallback?.backend ?? TRAIN_DEFAULTS.backend, ['wasm', 'cpu', 'tensorflow']);
  const isolation = parseChoice('--isolation', flags.isolation ?? fallback?.isolation ?? TRAIN_DEFAULTS.isolation, ['thread', 'process']);
  const cacheSize = flags.cacheSize === undefined ? undefined : parseInteger('--cache-size', flags.cacheSize, 1);
  const plans = planWorkers(devices, backend, isolation, flags.backend === undefined);
  // Loaded here, not at start-up: flag errors never need it.
  const { checkNativePackages } = require('../runtime/worker-plan') as typeof WorkerPlan;
  checkNativePackages(plans);
  const nats = natsOptionsFromFlags(flags);
  const remote = devices.find((d) => d.includes('/'));
  if (remote && !nats) throw new PushInputError(`--devices ${remote} is on a worker host: give --nats URL (the NATS server the host's \`push-ens worker\` uses)`);
  return nats ? { devices, backend, isolation, cacheSize, nats } : { devices, backend, isolation, cacheSize };
}

/** A device choice fit for checkpoints and logs: the NATS servers stay, credentials go. */
export function withoutSecrets(choice: DeviceChoice): DeviceChoice {
  const { nats, ...rest } = choice;
  return nats ? { ...rest, nats: { servers: nats.servers } } : rest;
}

/**
 * Layouts that run but waste something: more cpu devices than cores (threads
 * share cores), more devices than particles (some devices hold none). One line each.
 */
export function deviceWarnings(devices: readonly string[], particles: number, cores = os.availableParallelism()): string[] {
  const warnings: string[] = [];
  const cpus = devices.filter((d) => d.startsWith('cpu:')).length;
  if (cpus > cores) warnings.push(`--devices lists ${cpus} cpu devices but this machine has ${cores} cores: they will share cores (push-ens devices suggests a list)`);
  if (devices.length > particles) {
    warnings.push(`--devices lists ${devices.length} devices for ${particles} particle${particles === 1 ? '' : 's'}: ${devices.length - particles} will hold none`);
  }
  return warnings;
}

function planWorkers(devices: readonly string[], backend: string, isolation: 'thread' | 'process', backendDefaulted: boolean): WorkerPlan.WorkerPlan[] {
  const { planWorker } = require('../runtime/worker-plan') as typeof WorkerPlan;
  return parseDeviceList(devices).map((d) => planWorker(d, { backend: d.kind === 'cuda' && backendDefaulted ? undefined : backend, isolation }));
}

/**
 * Starts the run's device threads now, so they load TensorFlow.js while this
 * thread loads the engine and prepares the run; the run's PushDist takes them.
 * Returns how many the CLI had started already and how many it starts now.
 * Call releasePrestartedThreads() if the run fails before its workers start.
 */
export function prestartDeviceThreads(choice: DeviceChoice): { early: number; now: number } {
  const cpus = parseDeviceList(choice.devices).filter((d) => d.kind === 'cpu').map((d) => d.name);
  const threads = planWorkers(cpus, choice.backend, choice.isolation, false).filter((p) => p.transport === 'thread' && Object.keys(p.env).length === 0);
  const links = require('../runtime/links') as typeof Links;
  // The CLI may have started some already (early-start.ts).
  const early = links.prestartedThreadCount();
  const now = Math.max(0, threads.length - early);
  if (now > 0) links.prestartThreads(now);
  return { early, now };
}

export function releasePrestartedThreads(): void {
  (require('../runtime/links') as typeof Links).releasePrestartedThreads();
}
