// The device-side engine every algorithm's device module builds on: the data
// kept on the device, each particle's algorithm state, the device hooks each
// algorithm registers (set-up, checkpoint export, prediction members), and one
// stacked training epoch with NaN screening, progress reports and scheduler
// steps, whose batches, output offsets, update and end of epoch an algorithm
// may replace.
import { PushInputError } from '../../util/errors';
import { tf } from '../../util/tf';
import type { Batch } from '../../nn';
import type { Particle } from '../../runtime/particle';
import type { ParticleStore, StoreStepOptions } from '../../runtime/particle-store';
import { ArrayData, epochBatches, gatherBatch } from '../../runtime/training-handlers';
import type { DeviceNanEvent } from '../faults';
import { StepReporter } from '../progress';
import type { EpochArgs, EpochResult } from './messages';

/** What an algorithm does on a device beyond plain training and prediction. */
export interface DeviceAlgorithm {
  /** Sets up a particle (`setup` from its driver) or restores it (`saved`, from a checkpoint). */
  configure?(p: Particle, pid: number, setup: unknown, saved: unknown): void;
  /** The particle's algorithm state for a checkpoint (views are fine: the reply copies them). */
  exportState?(p: Particle, pid: number): unknown;
  /** The particle's prediction members [S, B, out] on x (called inside tf.tidy); absent: its plain output. */
  predict?(p: Particle, pid: number, x: tf.Tensor, args: Record<string, unknown>, own: unknown, perParticle: number): tf.Tensor;
}

const algorithms = new Map<string, DeviceAlgorithm>();

/** Called by an algorithm's device module when a worker loads it. */
export function registerDeviceAlgorithm(name: string, hooks: DeviceAlgorithm): void {
  algorithms.set(name, hooks);
}

export function deviceAlgorithm(name: string): DeviceAlgorithm {
  const a = algorithms.get(name);
  if (!a) throw new PushInputError(`algorithm ${JSON.stringify(name)} has no device module loaded on this device: expected one of ${[...algorithms.keys()].join(', ')}`);
  return a;
}

interface DeviceState {
  data: Map<string, ArrayData>;
  /** Each particle's algorithm state (one algorithm per device). */
  particles: Map<number, unknown>;
}

// Keyed by the device's particle store: the state lives and dies with the worker's particles.
const devices = new WeakMap<ParticleStore, DeviceState>();

function deviceState(p: Particle): DeviceState {
  let s = devices.get(p.store);
  if (!s) devices.set(p.store, (s = { data: new Map(), particles: new Map() }));
  return s;
}

export function setData(p: Particle, key: string, data: ArrayData): void {
  deviceState(p).data.set(key, data);
}

export function dataOf(p: Particle, key: string): ArrayData {
  const d = deviceState(p).data.get(key);
  if (!d) throw new PushInputError(`no data "${key}" on this device: send it with bayesSetData first`);
  return d;
}

/** A particle's algorithm state (undefined before the algorithm set it). */
export function stateOf<T>(p: Particle, pid: number): T | undefined {
  return deviceState(p).particles.get(pid) as T | undefined;
}

export function setStateOf(p: Particle, pid: number, state: unknown): void {
  deviceState(p).particles.set(pid, state);
}

/** How an algorithm shapes the stacked epoch. */
export interface EpochHooks {
  /** Per-particle rows of a batch (bootstrap resamples); absent: one batch shared by all. */
  rowsOf?(k: number, idx: Int32Array): Int32Array;
  /** Per-particle output offsets of a batch (random priors), or undefined; caller disposes. */
  offsetOf?(k: number, x: tf.Tensor): tf.Tensor | undefined;
  /** Replaces the optimizer step (SG-MCMC): same contract as ParticleStore.groupStep. */
  step?(pids: readonly number[], batch: Batch | Batch[], loss: string, opts: StoreStepOptions, step: number): Float32Array;
  /** After the last step, before the scheduler step. */
  afterEpoch?(pids: readonly number[]): void;
}

/** The runtime's NonFiniteLossError (matched by name too: handler modules may load their own copy of the runtime). */
function nonFiniteStop(err: unknown): { pid: number; loss: number } | undefined {
  const e = err as { name?: string; pid?: unknown; loss?: unknown };
  return e && e.name === 'NonFiniteLossError' && typeof e.pid === 'number' ? { pid: e.pid, loss: Number(e.loss) } : undefined;
}

/** One epoch of stacked group steps on the listed local particles; mean loss per particle. */
export function runStackedEpoch(p: Particle, a: EpochArgs, hooks: EpochHooks = {}): EpochResult {
  const t0 = performance.now();
  const d = dataOf(p, a.key);
  const n = d.xShape[0];
  if (!(a.batchSize >= 1 && a.batchSize <= n)) throw new PushInputError(`batch size ${a.batchSize}: expected 1..${n} (the training set size)`);
  const sums = new Float64Array(a.pids.length);
  const counts = new Int32Array(a.pids.length);
  const nanEvents: DeviceNanEvent[] = [];
  const batches = epochBatches(n, a.batchSize, a.batchSeed, a.epoch);
  const reporter = a.progressMs !== undefined ? new StepReporter(p, a.epoch, batches.length, a.pids.length, a.progressMs) : undefined;
  const ks = a.pids.map((_, k) => k);
  for (let step = 0; step < batches.length; step++) {
    const idx = batches[step];
    const own: Batch[] = hooks.rowsOf ? ks.map((k) => gatherBatch(d, hooks.rowsOf!(k, idx))) : [];
    const shared = hooks.rowsOf ? null : gatherBatch(d, idx);
    const given = hooks.offsetOf ? ks.map((k) => hooks.offsetOf!(k, (shared ?? own[k]).x)) : [];
    const offsets = given.some((o) => o) ? given : undefined;
    if (offsets && !offsets.every((o) => o)) {
      tf.dispose(offsets.filter((o): o is tf.Tensor => !!o));
      throw new PushInputError('a random-prior ensemble needs a prior on every particle it trains together');
    }
    const skipped = new Set<number>();
    const opts: StoreStepOptions = {
      ...(offsets ? { outputOffsets: offsets as tf.Tensor[] } : {}),
      nonFinite: a.onNan ?? 'stop',
      onNonFinite: (e) => {
        skipped.add(e.pid);
        nanEvents.push({ pid: e.pid, step, loss: e.loss, action: e.action });
      },
    };
    try {
      const batch = shared ?? own;
      const losses = hooks.step ? hooks.step(a.pids, batch, a.loss, opts, step) : p.store.groupStep(a.pids, batch, a.loss, opts);
      const taken: number[] = [];
      losses.forEach((l, k) => {
        if (skipped.has(a.pids[k])) return;
        taken.push(l);
        sums[k] += l;
        counts[k]++;
      });
      reporter?.step(taken);
    } catch (err) {
      const stop = nonFiniteStop(err);
      if (!stop) throw err;
      // The epoch ends here, unfinished: the run stops and keeps its last complete checkpoint.
      return { losses: [], ms: performance.now() - t0, nanEvents, steps: batches.length, stopped: { ...stop, step } };
    } finally {
      if (shared) tf.dispose([shared.x, shared.y]);
      own.forEach((b) => tf.dispose([b.x, b.y]));
      if (offsets) tf.dispose(offsets as tf.Tensor[]);
    }
  }
  hooks.afterEpoch?.(a.pids);
  if (a.stepScheduler) for (const pid of a.pids) p.store.schedulerStep(pid);
  reporter?.end();
  return { losses: Array.from(sums, (s, k) => (counts[k] > 0 ? s / counts[k] : NaN)), ms: performance.now() - t0, nanEvents, steps: batches.length };
}
