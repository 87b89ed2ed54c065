// Everything about one particle that a checkpoint keeps: weights, optimizer
// slots and counters (from the runtime's snapshot), base learning rate and seed,
// and algorithm state (random-prior weights, SWAG moments). Read from a live
// cluster, encoded to checkpoint files, decoded and restored into a new cluster.
import { PushInputError } from '../util/errors';
import type { ParticleSnapshot } from '../runtime/worker-api';
import { CheckpointReader, bytesOf, float32Of, float64Of } from './checkpoint-dir';
import type { ParticleCluster } from './cluster';
import type { ParticleConfig, ParticleExport } from './handlers';
import type { SwagState } from './algorithms/mswag/swag';

export interface ParticleState {
  seed: number;
  lr: number;
  params: Float32Array;
  /** Optimizer slots by name. */
  slots: Record<string, Float32Array>;
  step: number;
  schedulerCount: number;
  prior?: Float32Array;
  swag?: SwagState;
}

/** How a particle is listed in manifest.json; its arrays are in the named files. */
export interface ParticleRecord {
  pid: number;
  seed: number;
  lr: number;
  step: number;
  schedulerCount: number;
  files: { params: string; optimizer?: string; prior?: string; swag?: string };
  /** SWAG file layout: mean (float64 x n), sqMean (float64 x n), deviations (float32 x numDeviations x n). */
  swag?: { count: number; rank: number; numDeviations: number };
}

/** Reads every particle's state from the devices (pid order), one message per device. */
export async function readParticleStates(cluster: ParticleCluster): Promise<ParticleState[]> {
  const exports = (await cluster.eachDevice<ParticleExport[]>('bayesExport', (pids) => ({ pids }))).flat();
  const byPid = new Map(exports.map((e) => [e.pid, e]));
  return cluster.dist.particleIds().map((pid) => {
    const e = byPid.get(pid)!;
    return { seed: e.seed, lr: e.lr, params: e.params, slots: e.slots, step: e.step, schedulerCount: e.schedulerCount, prior: e.prior, swag: e.swag };
  });
}

/** Checkpoint files and manifest records of the particles; slots in `slotNames` order. */
export function encodeParticles(states: readonly ParticleState[], slotNames: readonly string[]): { records: ParticleRecord[]; files: { name: string; data: Uint8Array }[] } {
  const files: { name: string; data: Uint8Array }[] = [];
  const records = states.map((s, pid) => {
    const stem = `particle-${String(pid).padStart(3, '0')}`;
    const rec: ParticleRecord = { pid, seed: s.seed, lr: s.lr, step: s.step, schedulerCount: s.schedulerCount, files: { params: `${stem}.params.f32` } };
    files.push({ name: rec.files.params, data: bytesOf(s.params) });
    if (slotNames.length > 0) {
      const n = s.params.length;
      const opt = new Float32Array(slotNames.length * n);
      slotNames.forEach((name, i) => opt.set(s.slots[name], i * n));
      rec.files.optimizer = `${stem}.optimizer.f32`;
      files.push({ name: rec.files.optimizer, data: bytesOf(opt) });
    }
    if (s.prior) {
      rec.files.prior = `${stem}.prior.f32`;
      files.push({ name: rec.files.prior, data: bytesOf(s.prior) });
    }
    if (s.swag) {
      const w = s.swag;
      rec.swag = { count: w.count, rank: w.rank, numDeviations: w.numDeviations };
      const data = new Uint8Array(w.mean.byteLength + w.sqMean.byteLength + w.deviations.byteLength);
      data.set(bytesOf(w.mean), 0);
      data.set(bytesOf(w.sqMean), w.mean.byteLength);
      data.set(bytesOf(w.deviations), 2 * w.mean.byteLength);
      rec.files.swag = `${stem}.swag.bin`;
      files.push({ name: rec.files.swag, data });
    }
    return rec;
  });
  return { records, files };
}

/** Particle states from a verified checkpoint; n is the model's parameter count. */
export function decodeParticles(reader: CheckpointReader, records: unknown, n: number, slotNames: readonly string[]): ParticleState[] {
  const where = `checkpoint ${reader.dir}`;
  if (!Array.isArray(records) || records.length === 0) throw new PushInputError(`${where}: manifest.json lists no particles: the checkpoint is corrupt`);
  return (records as ParticleRecord[]).map((r, k) => {
    if (!r || r.pid !== k || !r.files || typeof r.files.params !== 'string') throw new PushInputError(`${where}: particle record ${k} in manifest.json is malformed`);
    const params = float32Of(reader.file(r.files.params), `${where}: ${r.files.params}`, n);
    const slots: Record<string, Float32Array> = {};
    if (slotNames.length > 0) {
      if (!r.files.optimizer) throw new PushInputError(`${where}: particle ${k} has no optimizer state file`);
      const opt = float32Of(reader.file(r.files.optimizer), `${where}: ${r.files.optimizer}`, slotNames.length * n);
      slotNames.forEach((name, i) => (slots[name] = opt.slice(i * n, (i + 1) * n)));
    }
    const state: ParticleState = { seed: r.seed, lr: r.lr, params, slots, step: r.step, schedulerCount: r.schedulerCount };
    if (r.files.prior) state.prior = float32Of(reader.file(r.files.prior), `${where}: ${r.files.prior}`, n);
    if (r.files.swag && r.swag) {
      const { count, rank, numDeviations } = r.swag;
      const data = reader.file(r.files.swag);
      const expected = 16 * n + 4 * numDeviations * n;
      if (data.byteLength !== expected) throw new PushInputError(`${where}: ${r.files.swag} holds ${data.byteLength} bytes, expected ${expected}`);
      state.swag = {
        n,
        rank,
        count,
        numDeviations,
        mean: float64Of(data.subarray(0, 8 * n), `${where}: ${r.files.swag} mean`, n),
        sqMean: float64Of(data.subarray(8 * n, 16 * n), `${where}: ${r.files.swag} sqMean`, n),
        deviations: float32Of(data.subarray(16 * n), `${where}: ${r.files.swag} deviations`, numDeviations * n),
      };
    }
    return state;
  });
}

/** The runtime snapshot a saved particle is re-created from. */
export function snapshotOf(s: ParticleState): ParticleSnapshot {
  return { params: s.params, grads: new Float32Array(s.params.length), slots: s.slots, step: s.step, schedulerCount: s.schedulerCount };
}

/** The bayesConfigure entry that restores a saved particle's lr and algorithm state. */
export function restoredConfig(pid: number, s: ParticleState, priorBeta: number | null): ParticleConfig {
  const c: ParticleConfig = { pid, lr: s.lr, seed: s.seed };
  if (s.prior) c.prior = { beta: priorBeta ?? 0, params: s.prior };
  if (s.swag) c.swag = { rank: s.swag.rank, state: s.swag };
  return c;
}
