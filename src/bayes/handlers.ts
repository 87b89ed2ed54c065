// Message handlers of the Bayesian algorithms, run inside device workers. Each
// is launched once per device (on the device's first particle) with the list of
// local particles it acts on, so per-device work stays stacked:
//   bayesSetData     keep a data set in the worker
//   bayesConfigure   per-particle extras: random prior, SWAG moments, bootstrap resample, lr
//   bayesTrainEpoch  one epoch of stacked group steps (+ SWAG collection, scheduler step)
//   bayesSvgdRound   apply a Stein update, then compute loss gradients on the next batch
//   bayesPredict     stacked predictions: plain (+ prior), SWAG weight samples, MC dropout passes
//   bayesSwagSamples weight samples of the particles' SWAG posteriors
//   bayesExport      per-particle algorithm state for checkpoints
// Per-particle extras live in a map keyed by the device's particle store, so
// they live and die with the worker's particles.
import type { ParticleState } from './particle-state';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { PushInputError } from '../util/errors';
import { Rng, deriveSeed } from '../util/rng';
import { tf } from '../util/tf';
import { Batch, ParticleGroup, parseLoss } from '../nn';
import type { Particle } from '../runtime/particle';
import type { NonFinitePolicy, ParticleStore, StoreStepOptions } from '../runtime/particle-store';
import { DeviceData, epochBatches, gatherBatch } from '../runtime/training-handlers';
import type { DeviceNanEvent } from './faults';
import { SwagMoments, SwagState } from './algorithms/mswag/swag';
import { StepReporter } from './progress';

interface RandomPrior {
  beta: number;
  params: Float32Array;
  /** Live tensors of the frozen prior network (made once, kept for the worker's life). */
  tensors: tf.Tensor[];
}

interface ParticleExtras {
  prior?: RandomPrior;
  swag?: SwagMoments;
  /** Bootstrap: this particle's fixed resample of the training set (row indices). */
  resample?: Int32Array;
  /** SWAG weight samples drawn for prediction, reused across the batches of one predict call. */
  samples?: { key: string; thetas: Float32Array[] };
}

interface DeviceState {
  data: Map<string, DeviceData>;
  particles: Map<number, ParticleExtras>;
  /** The batch lists of the current epoch (SVGD asks for them one batch at a time). */
  batches?: { key: string; list: Int32Array[] };
}

const devices = new WeakMap<ParticleStore, DeviceState>();

function deviceState(p: Particle): DeviceState {
  let s = devices.get(p.store);
  if (!s) devices.set(p.store, (s = { data: new Map(), particles: new Map() }));
  return s;
}

function extras(state: DeviceState, pid: number): ParticleExtras {
  let e = state.particles.get(pid);
  if (!e) state.particles.set(pid, (e = {}));
  return e;
}

function dataOf(state: DeviceState, key: string): DeviceData {
  const d = state.data.get(key);
  if (!d) throw new PushInputError(`no data "${key}" on this device: send it with bayesSetData first`);
  return d;
}

/** Local particles grouped by their ParticleGroup: rows and positions in `pids`. */
function byGroup(store: ParticleStore, pids: readonly number[]): { group: ParticleGroup; rows: number[]; at: number[] }[] {
  const out = new Map<ParticleGroup, { group: ParticleGroup; rows: number[]; at: number[] }>();
  pids.forEach((pid, k) => {
    const { group, row } = store.placement(pid);
    let g = out.get(group);
    if (!g) out.set(group, (g = { group, rows: [], at: [] }));
    g.rows.push(row);
    g.at.push(k);
  });
  return [...out.values()];
}

// ------------------------------------------------------------------ set-up

export async function bayesSetData(p: Particle, { key, data }: { key: string; data: DeviceData }): Promise<number> {
  const n = data.xShape[0];
  if (data.yShape[0] !== n) throw new PushInputError(`data "${key}": ${n} inputs but ${data.yShape[0]} targets`);
  // The frame's buffer may hold other fields: keep private copies.
  deviceState(p).data.set(key, { x: data.x.slice(), xShape: data.xShape, y: data.y.slice(), yShape: data.yShape });
  return n;
}

export interface ParticleConfig {
  pid: number;
  /** Base learning rate (MultiSWAG switches to swagLr; checkpoints restore it). */
  lr?: number;
  /** The particle's seed (dropout masks derive from it; onNan 'reinit' draws a new one; checkpoints restore it). */
  seed?: number;
  /** Random prior: its own seed (fresh) or saved parameters (restored). */
  prior?: { beta: number; seed?: number; params?: Float32Array };
  swag?: { rank: number; state?: SwagState };
  /** Bootstrap: the resample's seed, drawn over the rows of data `key`. */
  bootstrap?: { seed: number; key: string };
}

export async function bayesConfigure(p: Particle, args: { particles: ParticleConfig[] }): Promise<null> {
  const state = deviceState(p);
  const net = p.store.network;
  for (const c of args.particles) {
    const e = extras(state, c.pid);
    const { group, row } = p.store.placement(c.pid);
    if (c.lr !== undefined) group.meta(row).lr = c.lr;
    if (c.seed !== undefined) group.meta(row).seed = c.seed;
    if (c.prior) {
      if (e.prior) tf.dispose(e.prior.tensors);
      const params = c.prior.params ? c.prior.params.slice() : net.initParams(c.prior.seed ?? 0);
      e.prior = { beta: c.prior.beta, params, tensors: net.materialize(params) };
    }
    if (c.swag) {
      e.swag = c.swag.state ? SwagMoments.fromState(c.swag.state) : new SwagMoments(net.numParams, c.swag.rank);
      e.samples = undefined; // drawn from the old moments
    }
    if (c.bootstrap) {
      const n = dataOf(state, c.bootstrap.key).xShape[0];
      const rng = new Rng(c.bootstrap.seed);
      e.resample = Int32Array.from({ length: n }, () => rng.int(n));
    }
  }
  return null;
}

/** Sets the base learning rate of the listed particles. */
export async function bayesSetLr(p: Particle, args: { pids: number[]; lr: number }): Promise<null> {
  for (const pid of args.pids) {
    const { group, row } = p.store.placement(pid);
    group.meta(row).lr = args.lr;
  }
  return null;
}

// ------------------------------------------------------------------ training

export interface EpochArgs {
  key: string;
  pids: number[];
  /** 0-based epoch number: the batch order depends only on (batchSeed, epoch). */
  epoch: number;
  batchSize: number;
  loss: string;
  batchSeed: number;
  /** Each particle trains on its own resample (set up by bayesConfigure). */
  bootstrap?: boolean;
  /** After the epoch, add each particle's weights to its SWAG moments. */
  collectSwag?: boolean;
  /** After the epoch, one scheduler step per particle (PyTorch's per-epoch convention). */
  stepScheduler?: boolean;
  /** A NaN or infinite loss or gradient: stop (default), skip the particle's update, or re-initialise it. */
  onNan?: NonFinitePolicy;
  /** Report progress (p.emit) at least this many ms apart and at the end of the epoch; absent: no reports. */
  progressMs?: number;
}

export interface EpochResult {
  /** Mean loss per particle over the steps it took (NaN if it took none). */
  losses: number[];
  ms: number;
  /** Particles skipped or re-initialised (onNan 'skip' / 'reinit'). */
  nanEvents: DeviceNanEvent[];
  steps: number;
  /** onNan 'stop': the step where a particle's loss or gradient was not finite; the epoch ended there. */
  stopped?: { pid: number; loss: number; step: number };
}

/** The runtime's NonFiniteLossError (matched by name too: handler modules may load their own copy of the runtime). */
function nonFiniteStop(err: unknown): { pid: number; loss: number } | undefined {
  const e = err as { name?: string; pid?: unknown; loss?: unknown };
  return e && e.name === 'NonFiniteLossError' && typeof e.pid === 'number' ? { pid: e.pid, loss: Number(e.loss) } : undefined;
}

/** beta * prior(x) for a particle with a random prior (caller disposes), else undefined. */
function priorOffset(p: Particle, prior: RandomPrior | undefined, x: tf.Tensor): tf.Tensor | undefined {
  if (!prior) return undefined;
  return tf.tidy(() => tf.mul(p.store.network.forward(prior.tensors, x), prior.beta));
}

/** One epoch of stacked group steps on the listed local particles; mean loss per particle. */
export async function bayesTrainEpoch(p: Particle, a: EpochArgs): Promise<EpochResult> {
  const t0 = performance.now();
  const state = deviceState(p);
  const d = dataOf(state, a.key);
  const n = d.xShape[0];
  if (!(a.batchSize >= 1 && a.batchSize <= n)) throw new PushInputError(`batch size ${a.batchSize}: expected 1..${n} (the training set size)`);
  const ex = a.pids.map((pid) => extras(state, pid));
  if (a.bootstrap && ex.some((e) => !e.resample)) throw new PushInputError('bootstrap training needs bayesConfigure with a bootstrap seed for every particle');
  const withPriors = ex.some((e) => e.prior);
  if (withPriors && !ex.every((e) => e.prior)) throw new PushInputError('a random-prior ensemble needs a prior on every particle it trains together');
  const sums = new Float64Array(a.pids.length);
  const counts = new Int32Array(a.pids.length);
  const nanEvents: DeviceNanEvent[] = [];
  const batches = epochBatches(n, a.batchSize, a.batchSeed, a.epoch);
  const reporter = a.progressMs !== undefined ? new StepReporter(p, a.epoch, batches.length, a.pids.length, a.progressMs) : undefined;
  for (let step = 0; step < batches.length; step++) {
    const idx = batches[step];
    const own: Batch[] = a.bootstrap ? ex.map((e) => gatherBatch(d, Int32Array.from(idx, (i) => e.resample![i]))) : [];
    const shared = a.bootstrap ? null : gatherBatch(d, idx);
    const offsets = withPriors ? ex.map((e, k) => priorOffset(p, e.prior, (shared ?? own[k]).x)!) : undefined;
    const skipped = new Set<number>();
    const opts: StoreStepOptions = {
      ...(offsets ? { outputOffsets: offsets } : {}),
      nonFinite: a.onNan ?? 'stop',
      onNonFinite: (e) => {
        skipped.add(e.pid);
        nanEvents.push({ pid: e.pid, step, loss: e.loss, action: e.action });
      },
    };
    try {
      const losses = p.store.groupStep(a.pids, shared ?? own, a.loss, opts);
      const taken = losses.filter((_, k) => !skipped.has(a.pids[k]));
      losses.forEach((l, k) => {
        if (skipped.has(a.pids[k])) return;
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
      if (offsets) tf.dispose(offsets);
    }
  }
  afterEpoch(p, a.pids, ex, a);
  reporter?.end();
  return { losses: Array.from(sums, (s, k) => (counts[k] > 0 ? s / counts[k] : NaN)), ms: performance.now() - t0, nanEvents, steps: batches.length };
}

function afterEpoch(p: Particle, pids: readonly number[], ex: ParticleExtras[], a: { collectSwag?: boolean; stepScheduler?: boolean }): void {
  if (a.collectSwag) {
    pids.forEach((pid, k) => {
      const swag = ex[k].swag;
      if (!swag) throw new PushInputError(`particle ${pid} has no SWAG moments: configure it with bayesConfigure first`);
      swag.collect(p.store.exchange(pid, false).params);
    });
  }
  if (a.stepScheduler) for (const pid of pids) p.store.schedulerStep(pid);
}

export interface SvgdRoundArgs {
  pids: number[];
  /** Stein directions of the listed particles, [pids.length, n]: applied as an ascent step with each particle's optimizer. */
  phi?: Float32Array;
  /** After applying phi: one scheduler step (end of an epoch). */
  stepScheduler?: boolean;
  /** Then compute loss gradients on batch `index` of epoch `epoch` (no update). */
  batch?: { key: string; epoch: number; index: number; batchSize: number; batchSeed: number; loss: string };
}

export interface SvgdRoundResult {
  /** [pids.length, n] parameters the gradients were taken at. */
  params?: Float32Array;
  /** [pids.length, n] gradients of the mean minibatch loss. */
  grads?: Float32Array;
  losses?: number[];
  ms: number;
}

/** One SVGD round on a device: apply the previous step's directions, then take gradients on the next batch. */
export async function bayesSvgdRound(p: Particle, a: SvgdRoundArgs): Promise<SvgdRoundResult> {
  const t0 = performance.now();
  const store = p.store;
  const n = store.network.numParams;
  const groups = byGroup(store, a.pids);
  if (a.phi) {
    if (a.phi.length !== a.pids.length * n) throw new PushInputError(`phi has ${a.phi.length} values: expected ${a.pids.length} x ${n}`);
    for (const g of groups) {
      const dir = new Float32Array(g.rows.length * n);
      g.at.forEach((k, i) => dir.set(a.phi!.subarray(k * n, (k + 1) * n), i * n));
      g.group.applyUpdate(g.rows, dir, { ascent: true });
    }
    // Host parameters changed outside groupStep: drop any live copies the cache holds.
    for (const pid of a.pids) store.restore(pid, {});
  }
  if (a.stepScheduler) for (const pid of a.pids) store.schedulerStep(pid);
  if (!a.batch) return { ms: performance.now() - t0 };
  const b = a.batch;
  const state = deviceState(p);
  const d = dataOf(state, b.key);
  const listKey = `${b.key}/${b.batchSize}/${b.batchSeed}/${b.epoch}`;
  if (state.batches?.key !== listKey) state.batches = { key: listKey, list: epochBatches(d.xShape[0], b.batchSize, b.batchSeed, b.epoch) };
  const batch = gatherBatch(d, state.batches.list[b.index]);
  const params = new Float32Array(a.pids.length * n);
  const grads = new Float32Array(a.pids.length * n);
  const losses = new Array<number>(a.pids.length);
  try {
    for (const g of groups) {
      const l = g.group.computeGrads(g.rows, batch, parseLoss(b.loss));
      g.at.forEach((k, i) => {
        const r = g.group.readRow(g.rows[i]); // resident groups read back here: the SVGD kernel spans devices, on the coordinator
        params.set(r.params, k * n);
        grads.set(r.grads, k * n);
        losses[k] = l[i];
      });
    }
  } finally {
    tf.dispose([batch.x, batch.y]);
  }
  return { params, grads, losses, ms: performance.now() - t0 };
}

// ------------------------------------------------------------------ prediction

export type PredictKind = 'plain' | 'swag' | 'dropout';

export interface PredictArgs {
  pids: number[];
  x: Float32Array;
  xShape: number[];
  kind: PredictKind;
  /** swag / dropout: members per particle. */
  numSamples?: number;
  /** swag / dropout: one seed per particle; sample s uses deriveSeed(seed, s). */
  sampleSeeds?: number[];
  /** swag: covariance scale and variance floor. */
  scale?: number;
  varClamp?: number;
}

/** Stacked predictions of local particles: [members, B, out] with members = pids.length x samples, particle-major. */
export async function bayesPredict(p: Particle, a: PredictArgs): Promise<{ out: Float32Array; ms: number }> {
  const t0 = performance.now();
  const state = deviceState(p);
  const x = tf.tensor(a.x, a.xShape);
  try {
    const perPid = a.pids.map((pid, k) => tf.tidy(() => predictOne(p, state, pid, k, x, a)));
    const stacked = tf.concat(perPid, 0);
    tf.dispose(perPid);
    const out = stacked.dataSync() as Float32Array;
    stacked.dispose();
    return { out, ms: performance.now() - t0 };
  } finally {
    x.dispose();
  }
}

/** [samples, B, out] for one particle (inside tf.tidy). */
function predictOne(p: Particle, state: DeviceState, pid: number, k: number, x: tf.Tensor, a: PredictArgs): tf.Tensor {
  const store = p.store;
  const { group, row } = store.placement(pid);
  const e = extras(state, pid);
  const S = a.numSamples ?? 1;
  const seed = a.sampleSeeds?.[k] ?? 0;
  switch (a.kind) {
    case 'plain': {
      const out = group.predict([row], x);
      const offset = priorOffset(p, e.prior, x);
      return offset ? tf.add(out, offset) : out;
    }
    case 'dropout': {
      // Pass s is one thinned network (its own mask over units, the same for every input):
      // a smooth function of x, whatever the batch, so curves over a grid are curves.
      const seeds = Array.from({ length: S }, (_, s) => deriveSeed(seed, s));
      return group.predict(new Array<number>(S).fill(row), x, { training: true, dropoutSeeds: seeds, sharedDropoutMask: true });
    }
    case 'swag': {
      const thetas = swagSamples(e, pid, seed, S, a.scale ?? 0.5, a.varClamp ?? 1e-30);
      const net = store.network;
      return tf.stack(thetas.map((theta) => net.forward(net.materialize(theta), x)));
    }
  }
}

/** The particle's SWAG weight samples for this seed (drawn once, reused across batches). */
function swagSamples(e: ParticleExtras, pid: number, seed: number, S: number, scale: number, varClamp: number): Float32Array[] {
  const swag = e.swag;
  if (!swag || swag.count === 0) throw new PushInputError(`particle ${pid} has collected no SWAG moments: train with trainMultiSWAG first`);
  const key = `${seed}/${S}/${scale}/${varClamp}/${swag.count}`;
  if (e.samples?.key !== key) {
    const rng = new Rng(seed);
    e.samples = { key, thetas: Array.from({ length: S }, () => swag.sample(rng, { scale, varClamp })) };
  }
  return e.samples.thetas;
}

/** SWAG weight samples of the listed particles: [pids.length x numSamples, n], particle-major. */
export async function bayesSwagSamples(p: Particle, a: { pids: number[]; numSamples: number; sampleSeeds: number[]; scale: number; varClamp: number }): Promise<Float32Array> {
  const state = deviceState(p);
  const n = p.store.network.numParams;
  const out = new Float32Array(a.pids.length * a.numSamples * n);
  a.pids.forEach((pid, k) => {
    // A fresh draw each call (not the prediction cache): callers may ask for many samples.
    const swag = extras(state, pid).swag;
    if (!swag || swag.count === 0) throw new PushInputError(`particle ${pid} has collected no SWAG moments`);
    const rng = new Rng(a.sampleSeeds[k]);
    for (let s = 0; s < a.numSamples; s++) out.set(swag.sample(rng, { scale: a.scale, varClamp: a.varClamp }), (k * a.numSamples + s) * n);
  });
  return out;
}

// ------------------------------------------------------------------ diagnostics

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

// ------------------------------------------------------------------ checkpoints

/** A particle's full state as a worker exports it: ParticleState plus its pid. */
export interface ParticleExport extends ParticleState {
  pid: number;
}

/**
 * Everything a checkpoint keeps about the listed particles, in one handler call per
 * device: a call, unlike a control message, is bounded by the run's timeoutMs.
 */
export async function bayesExport(p: Particle, args: { pids: number[] }): Promise<ParticleExport[]> {
  const state = deviceState(p);
  return args.pids.map((pid) => {
    const { group, row } = p.store.placement(pid);
    // meta.seed is the particle's current seed: onNan 'reinit' may have replaced the one it started with.
    const meta = group.meta(row);
    const e = state.particles.get(pid) ?? {};
    const snap = p.store.snapshot(pid, false); // views: the reply frame copies them
    return { pid, lr: meta.lr, seed: meta.seed, params: snap.params, slots: snap.slots, step: snap.step, schedulerCount: snap.schedulerCount, prior: e.prior?.params, swag: e.swag?.toState() };
  });
}
