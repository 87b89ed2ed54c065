// Everything about one particle that a checkpoint keeps: weights, optimizer
// slots and counters (from the runtime's snapshot), base learning rate and seed,
// and the algorithm's own state (random-prior weights, SWAG moments, kept
// samples), which the algorithm's codec turns into record fields and files.
// Read from a live cluster, encoded to checkpoint files, decoded and restored
// into a new cluster: the one chain a particle's state goes through.
import { PushInputError } from '../util/errors';
import type { ParticleSnapshot } from '../runtime/worker-api';
import { CheckpointReader, bytesOf, float32Of } from './checkpoint-dir';
import type { ParticleCluster } from './cluster';
import type { ParticleConfig, ParticleExport } from './device/messages';
import type { Algorithm } from './algorithms/types';

export interface ParticleState {
  seed: number;
  lr: number;
  params: Float32Array;
  /** Optimizer slots by name. */
  slots: Record<string, Float32Array>;
  step: number;
  schedulerCount: number;
  /** The algorithm's own state (its codec's), if it keeps any. */
  state?: unknown;
}

/** How a particle is listed in manifest.json; its arrays are in the named files. */
export interface ParticleRecord {
  pid: number;
  seed: number;
  lr: number;
  step: number;
  schedulerCount: number;
  /** params and optimizer, then the algorithm's own files (e.g. prior, swag). */
  files: { params: string; optimizer?: string; [key: string]: string | undefined };
  /** The algorithm codec's fields (e.g. swag: {count, rank, numDeviations}). */
  [field: string]: unknown;
}

/** Reads every particle's state from the devices (pid order), one message per device. */
export async function readParticleStates(cluster: ParticleCluster, algorithm: string): Promise<ParticleState[]> {
  const exports = (await cluster.call('bayesExport', (pids) => ({ algorithm, pids }))).flat();
  const byPid = new Map<number, ParticleExport>(exports.map((e) => [e.pid, e]));
  return cluster.dist.particleIds().map((pid) => {
    const e = byPid.get(pid)!;
    return { seed: e.seed, lr: e.lr, params: e.params, slots: e.slots, step: e.step, schedulerCount: e.schedulerCount, ...(e.state !== undefined ? { state: e.state } : {}) };
  });
}

/** File extension of an algorithm file: particle-000.prior.f32 keeps the names checkpoints always had. */
const EXTENSIONS: Record<string, string> = { prior: 'f32' };

/** Checkpoint files and manifest records of the particles; slots in `slotNames` order. */
export function encodeParticles(states: readonly ParticleState[], slotNames: readonly string[], algorithm: Algorithm<any>): { records: ParticleRecord[]; files: { name: string; data: Uint8Array }[] } {
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
    if (s.state !== undefined && algorithm.codec) {
      const enc = algorithm.codec.encode(s.state);
      Object.assign(rec, enc.fields ?? {});
      for (const [key, data] of Object.entries(enc.files)) {
        const name = `${stem}.${key}.${EXTENSIONS[key] ?? 'bin'}`;
        rec.files[key] = name;
        files.push({ name, data });
      }
    }
    return rec;
  });
  return { records, files };
}

/** Particle states from a verified checkpoint; n is the model's parameter count. */
export function decodeParticles(reader: CheckpointReader, records: unknown, n: number, slotNames: readonly string[], algorithm: Algorithm<any>): ParticleState[] {
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
    const fileOf = (key: string) => {
      const name = r.files[key];
      if (name === undefined) return undefined;
      if (typeof name !== 'string') throw new PushInputError(`${where}: particle record ${k} in manifest.json is malformed`);
      return reader.file(name);
    };
    const own = algorithm.codec?.decode(r, fileOf, n, `${where}: particle ${k}`);
    if (own !== undefined) state.state = own;
    return state;
  });
}

/** The runtime snapshot a saved particle is re-created from. */
export function snapshotOf(s: ParticleState): ParticleSnapshot {
  return { params: s.params, grads: new Float32Array(s.params.length), slots: s.slots, step: s.step, schedulerCount: s.schedulerCount };
}

/** The bayesConfigure entry that restores a saved particle: its lr, seed and algorithm state, over its fresh set-up. */
export function restoredConfig(pid: number, s: ParticleState, setup: unknown): ParticleConfig {
  return { pid, lr: s.lr, seed: s.seed, ...(setup !== undefined ? { setup } : {}), ...(s.state !== undefined ? { state: s.state } : {}) };
}
