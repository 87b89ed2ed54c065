// The Bayesian layer's device handlers that every algorithm shares, loaded by
// every device worker next to the algorithm's own device module. Each is called
// once per device (ParticleCluster.call) with the local particles it acts on:
//   bayesSetData     keep a data set in the worker
//   bayesConfigure   base lr and seed, then the algorithm's set-up or saved state
//   bayesSetLr       a new base learning rate (constant: no longer scheduled)
//   bayesPredict     stacked prediction members of the listed particles
//   bayesExport      per-particle state for checkpoints
//   bayesMemoryUsage where the worker's memory is (bench/rss)
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { PushInputError } from '../../util/errors';
import { tf } from '../../util/tf';
import type { Particle } from '../../runtime/particle';
import type { ArrayData } from '../../runtime/training-handlers';
import { deviceAlgorithm, setData } from './engine';
import type { DeviceMessages, ParticleExport, PredictArgs } from './messages';

type Args<M extends keyof DeviceMessages> = DeviceMessages[M]['args'];
type Result<M extends keyof DeviceMessages> = Promise<DeviceMessages[M]['result']>;

export async function bayesSetData(p: Particle, { key, data }: Args<'bayesSetData'>): Result<'bayesSetData'> {
  const n = data.xShape[0];
  if (data.yShape[0] !== n) throw new PushInputError(`data "${key}": ${n} inputs but ${data.yShape[0]} targets`);
  // The frame's buffer may hold other fields: keep private copies.
  const copy: ArrayData = { x: data.x.slice(), xShape: data.xShape, y: data.y.slice(), yShape: data.yShape };
  setData(p, key, copy);
  return n;
}

export async function bayesConfigure(p: Particle, args: Args<'bayesConfigure'>): Result<'bayesConfigure'> {
  const hooks = deviceAlgorithm(args.algorithm);
  for (const c of args.particles) {
    const { group, row } = p.store.placement(c.pid);
    if (c.lr !== undefined) group.meta(row).lr = c.lr;
    if (c.seed !== undefined) group.meta(row).seed = c.seed;
    if (c.setup !== undefined || c.state !== undefined) hooks.configure?.(p, c.pid, c.setup, c.state);
  }
  return null;
}

/** Sets the base learning rate of the listed particles; `constant`: the scheduler no longer scales it. */
export async function bayesSetLr(p: Particle, args: Args<'bayesSetLr'>): Result<'bayesSetLr'> {
  for (const pid of args.pids) {
    const { group, row } = p.store.placement(pid);
    group.meta(row).lr = args.lr;
    if (args.constant) group.meta(row).constantLr = true;
  }
  return null;
}

/** Stacked predictions of local particles: [members, B, out] with members = pids.length x perParticle, particle-major. */
export async function bayesPredict(p: Particle, a: PredictArgs): Result<'bayesPredict'> {
  const t0 = performance.now();
  const hooks = deviceAlgorithm(a.algorithm);
  const x = tf.tensor(a.x, a.xShape);
  try {
    const perPid = a.pids.map((pid, k) =>
      tf.tidy(() => {
        if (hooks.predict) return hooks.predict(p, pid, x, a.args ?? {}, a.perPid?.[k], a.perParticle);
        const { group, row } = p.store.placement(pid);
        return group.predict([row], x);
      }),
    );
    const stacked = tf.concat(perPid, 0);
    tf.dispose(perPid);
    const out = stacked.dataSync() as Float32Array;
    stacked.dispose();
    return { out, ms: performance.now() - t0 };
  } finally {
    x.dispose();
  }
}

/**
 * Everything a checkpoint keeps about the listed particles, in one handler call per
 * device: a call, unlike a control message, is bounded by the run's timeoutMs.
 */
export async function bayesExport(p: Particle, args: Args<'bayesExport'>): Result<'bayesExport'> {
  const hooks = deviceAlgorithm(args.algorithm);
  return args.pids.map((pid): ParticleExport => {
    const { group, row } = p.store.placement(pid);
    // meta.seed is the particle's current seed: onNan 'reinit' may have replaced the one it started with.
    const meta = group.meta(row);
    const snap = p.store.snapshot(pid, false); // views: the reply frame copies them
    const state = hooks.exportState?.(p, pid);
    return { pid, lr: meta.lr, seed: meta.seed, params: snap.params, slots: snap.slots, step: snap.step, schedulerCount: snap.schedulerCount, ...(state !== undefined ? { state } : {}) };
  });
}

export interface WorkerMemory {
  /** Bytes, as process.memoryUsage() reports them in the worker (rss is the whole process's). */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Bytes tfjs holds in tensors on this device. */
  tensorBytes: number;
}

/**
 * Where a device worker's memory is: for bench/rss, which tells leaks from garbage not yet
 * collected. With `gc`, a full garbage collection runs first (V8's gc function, enabled at
 * run time because workers start without --expose-gc).
 */
export async function bayesMemoryUsage(_p: Particle, args: { gc?: boolean } = {}): Promise<WorkerMemory> {
  if (args.gc) fullGc();
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers, tensorBytes: tf.memory().numBytes };
}

let gcFunction: (() => void) | undefined;

/** A full garbage collection, for memory measurements (gc is not exposed by default). */
export function fullGc(): void {
  if (!gcFunction) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as () => void;
  }
  gcFunction();
}
