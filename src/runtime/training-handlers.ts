// Built-in handlers that every device worker loads: data kept on the device,
// whole epochs of stacked group steps (one message per device per call, so no
// worker waits on the coordinator between steps), single-particle steps (the
// Push-style one-by-one path) and stacked predictions.
import { PushInputError } from '../util/errors';
import { Rng, deriveSeed } from '../util/rng';
import { tf } from '../util/tf';
import type { Particle } from './particle';
import type { Batch } from '../nn';
import { NonFiniteEvent, NonFiniteLossError, NonFinitePolicy, StoreStepOptions } from './particle-store';

/** Examples as row-major float32 with their shape ([N, ...]): the training data a device keeps. */
export interface ArrayData {
  x: Float32Array;
  xShape: number[];
  y: Float32Array;
  yShape: number[];
}

export interface EpochPlan {
  /** Key under which pushSetData stored the training set. */
  key: string;
  /** Local particles to train, in order. */
  pids: number[];
  /** Epoch numbers to run, e.g. [3, 4]: the batch order of epoch e depends only on (seed, e). */
  epochs: number[];
  batchSize: number;
  loss: string;
  /** Base seed of the batch order. */
  seed: number;
  /** Per-particle bootstrap: the seed of each particle's fixed resample of the training set (with replacement). */
  bootstrapSeeds?: number[];
  /** A NaN or infinite loss: stop (default, an error naming particle, epoch and step), skip the update, or re-initialise. */
  onNan?: NonFinitePolicy;
}

/** A particle skipped or re-initialised because of a NaN or infinite loss. */
export interface NanEvent extends NonFiniteEvent {
  epoch: number;
  step: number;
}

const nanEvents: NanEvent[] = [];

/** The NaN events recorded since the last call (and forgets them). */
export async function pushTakeNanEvents(): Promise<NanEvent[]> {
  return nanEvents.splice(0);
}

// Training sets live for the worker's lifetime, keyed by name.
const datasets = new Map<string, ArrayData>();

export async function pushSetData(_p: Particle, key: string, data: ArrayData): Promise<number> {
  const n = data.xShape[0];
  if (data.yShape[0] !== n) throw new PushInputError(`data "${key}": ${n} inputs but ${data.yShape[0]} targets`);
  // The frame's buffer may be shared with other fields: keep private copies.
  datasets.set(key, { x: data.x.slice(), xShape: data.xShape, y: data.y.slice(), yShape: data.yShape });
  return n;
}

export async function pushDropData(_p: Particle, key: string): Promise<boolean> {
  return datasets.delete(key);
}

/** A data set stored on this device by pushSetData. */
export function dataset(key: string): ArrayData {
  const d = datasets.get(key);
  if (!d) throw new PushInputError(`no data "${key}" on this device: send it with pushSetData first`);
  return d;
}

const rowSize = (shape: number[]) => shape.slice(1).reduce((a, b) => a * b, 1);

/** The batch index lists of one epoch: a permutation seeded by (seed, epoch), cut into batches. */
export function epochBatches(n: number, batchSize: number, seed: number, epoch: number): Int32Array[] {
  const perm = new Rng(deriveSeed(seed, epoch)).permutation(n);
  const out: Int32Array[] = [];
  for (let s = 0; s < n; s += batchSize) out.push(perm.subarray(s, Math.min(n, s + batchSize)));
  return out;
}

/** Gathers rows of the data set into tensors x [B, ...] and y [B, ...]. */
export function gatherBatch(d: ArrayData, idx: ArrayLike<number>): { x: tf.Tensor; y: tf.Tensor } {
  const xr = rowSize(d.xShape);
  const yr = rowSize(d.yShape);
  const x = new Float32Array(idx.length * xr);
  const y = new Float32Array(idx.length * yr);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    x.set(d.x.subarray(r * xr, (r + 1) * xr), i * xr);
    y.set(d.y.subarray(r * yr, (r + 1) * yr), i * yr);
  }
  return { x: tf.tensor(x, [idx.length, ...d.xShape.slice(1)]), y: tf.tensor(y, [idx.length, ...d.yShape.slice(1)]) };
}

/** Runs whole epochs of stacked group steps; returns each epoch's mean loss per particle. */
export async function pushTrainEpochs(p: Particle, plan: EpochPlan): Promise<number[][]> {
  const d = dataset(plan.key);
  const n = d.xShape[0];
  if (!(plan.batchSize >= 1 && plan.batchSize <= n)) throw new PushInputError(`batch size ${plan.batchSize}: expected 1..${n} (the training set size)`);
  // Bootstrap: each particle's fixed resample of the training set (n rows drawn with replacement
  // from its seed, as the deep ensemble draws it), not a fresh draw every step.
  const resamples = plan.bootstrapSeeds?.map((s) => {
    const rng = new Rng(s);
    return Int32Array.from({ length: n }, () => rng.int(n));
  });
  const out: number[][] = [];
  for (const epoch of plan.epochs) {
    const sums = new Float64Array(plan.pids.length);
    const batches = epochBatches(n, plan.batchSize, plan.seed, epoch);
    for (let step = 0; step < batches.length; step++) {
      const idx = batches[step];
      const stepOpts: StoreStepOptions = {
        nonFinite: plan.onNan ?? 'stop',
        onNonFinite: (e) => nanEvents.push({ ...e, epoch, step }),
      };
      let losses: Float32Array;
      if (resamples) {
        const own = resamples.map((rows) => gatherBatch(d, Int32Array.from(idx, (i) => rows[i])));
        try {
          losses = stepWithContext(p, plan.pids, own, plan.loss, stepOpts, epoch, step);
        } finally {
          own.forEach((b) => tf.dispose([b.x, b.y]));
        }
      } else {
        const b = gatherBatch(d, idx);
        try {
          losses = stepWithContext(p, plan.pids, b, plan.loss, stepOpts, epoch, step);
        } finally {
          tf.dispose([b.x, b.y]);
        }
      }
      losses.forEach((l, k) => (sums[k] += Number.isFinite(l) ? l : 0));
    }
    out.push(Array.from(sums, (s) => s / batches.length));
    await new Promise((r) => setImmediate(r)); // let other messages (stats, get) through between epochs
  }
  return out;
}

/** A group step whose NaN error names the epoch and step. */
function stepWithContext(p: Particle, pids: number[], b: Batch | Batch[], loss: string, opts: StoreStepOptions, epoch: number, step: number): Float32Array {
  try {
    return p.store.groupStep(pids, b, loss, opts);
  } catch (err) {
    if (err instanceof NonFiniteLossError) {
      throw new PushInputError(`particle ${err.pid}: non-finite loss (${err.loss}) at epoch ${epoch}, step ${step}; on-nan policy "stop"`);
    }
    throw err;
  }
}

/** One step of one particle on batch `batch` of epoch `epoch`: the one-by-one path. */
export async function pushStepOne(p: Particle, args: { key: string; epoch: number; batch: number; batchSize: number; loss: string; seed: number }): Promise<number> {
  const d = dataset(args.key);
  const idx = cachedBatches(d.xShape[0], args.batchSize, args.seed, args.epoch)[args.batch];
  const b = gatherBatch(d, idx);
  try {
    return p.step(args.loss, b.x, b.y);
  } finally {
    tf.dispose([b.x, b.y]);
  }
}

let lastBatches: { key: string; batches: Int32Array[] } | null = null;
function cachedBatches(n: number, batchSize: number, seed: number, epoch: number): Int32Array[] {
  const key = `${n}/${batchSize}/${seed}/${epoch}`;
  if (lastBatches?.key !== key) lastBatches = { key, batches: epochBatches(n, batchSize, seed, epoch) };
  return lastBatches.batches;
}

/** Stacked predictions of local particles: [pids.length, B, out] as a tensor (sent as typed array). */
export async function pushPredict(p: Particle, args: { pids: number[]; x: tf.Tensor; training?: boolean; dropoutSeeds?: number[] }): Promise<tf.Tensor> {
  try {
    const outs = args.pids.map((pid, k) => p.store.forward(pid, args.x, { training: args.training, dropoutSeed: args.dropoutSeeds?.[k] }));
    const stacked = tf.stack(outs);
    tf.dispose(outs);
    return stacked;
  } finally {
    args.x.dispose();
  }
}

/** Tensors alive in this worker: for leak tests. */
export async function pushNumTensors(): Promise<number> {
  return tf.memory().numTensors;
}
