// A device worker's particles. Their state is host-canonical: parameters,
// gradients and optimizer slots live in the [P, n] host buffers of a
// ParticleGroup (src/nn), one group per optimizer and scheduler configuration
// (every particle of a PushDist shares the model). The particle cache decides
// which particles also hold live parameter tensors on the backend: at most
// `cacheSize`, evicted least recently used first. The authoritative copy of
// every quantity stays on the host, so a swap can never lose optimizer state
// (Push's bug) and a particle is bit-identical after swapping out and in.
//
// In resident mode (default on the tensorflow backend) a group keeps the state
// of the rows it steps on the backend instead (src/nn/resident-state.ts): a
// chunk of at most cacheSize rows, read back to the host when another chunk
// swaps in and whenever the host copy is read (get, snapshots, checkpoints).
import { PushInputError } from '../util/errors';
import { tf } from '../util/tf';
import { Batch, GroupStepOptions, Loss, Network, ParticleGroup, compileModel, parseLoss, parseOptimizerConfig, parseSchedulerConfig, resolveResident, validateSpec } from '../nn';
import type { CreateArgs, ParticleSnapshot } from './worker-api';

export type LossSpec = string | Loss;

/** What a group step does with a particle whose loss or gradient is NaN or infinite. */
export type NonFinitePolicy = 'stop' | 'skip' | 'reinit';
export const NON_FINITE_POLICIES: readonly NonFinitePolicy[] = ['stop', 'skip', 'reinit'];

/** A particle's loss or gradient was not finite and the policy is 'stop'. */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(
    readonly pid: number,
    readonly loss: number,
  ) {
    super(`particle ${pid}: loss is ${Number.isNaN(loss) ? 'NaN' : loss} or its gradient is not finite`);
  }
}

/** A particle skipped or re-initialised by a group step. */
export interface NonFiniteEvent {
  pid: number;
  loss: number;
  action: 'skip' | 'reinit';
}

export interface StoreStepOptions extends GroupStepOptions {
  /** Default 'stop': throw NonFiniteLossError before any particle is updated. */
  nonFinite?: NonFinitePolicy;
  /** Receives the particles skipped or re-initialised. */
  onNonFinite?: (e: NonFiniteEvent) => void;
}

interface Placement {
  group: ParticleGroup;
  row: number;
}

export interface StoreStats {
  particles: number;
  resident: number;
  swaps: number;
  bytesPerParticle: number;
  residentTraining: { on: boolean; uploads: number; downloads: number };
}

export interface StoreOptions {
  /** Device-resident training (see ParticleGroup); default 'auto': on the tensorflow backend. */
  resident?: boolean | 'auto';
}

export class ParticleStore {
  readonly network: Network;
  private readonly groups = new Map<string, ParticleGroup>();
  private readonly placements = new Map<number, Placement>();
  /**
   * Resident particles, in LRU order, with their live parameter tensors; null
   * when the host copy changed since (rebuilt on next use, without a swap).
   */
  private readonly live = new Map<number, tf.Tensor[] | null>();
  private swaps = 0;

  constructor(
    modelSpec: unknown,
    private readonly cacheSize: number,
    private readonly host: { readonly device: string },
    private readonly opts: StoreOptions = {},
  ) {
    this.network = compileModel(validateSpec(modelSpec));
  }

  create(args: CreateArgs): void {
    if (this.placements.has(args.pid)) throw new PushInputError(`particle ${args.pid} already exists on ${this.host.device}`);
    const optimizer = parseOptimizerConfig(args.optimizer ?? { type: 'adam' });
    const scheduler = args.scheduler ? parseSchedulerConfig(args.scheduler) : undefined;
    const { lr, ...rest } = optimizer;
    const key = JSON.stringify({ rest, scheduler });
    let group = this.groups.get(key);
    if (!group) {
      group = new ParticleGroup(this.network, { optimizer, scheduler, resident: this.opts.resident });
      this.groups.set(key, group);
    }
    const snap = args.snapshot;
    const slots = snap ? group.optimizer.slotNames.map((name) => snap.slots[name] ?? new Float32Array(group!.n)) : undefined;
    const row = group.add(snap?.params, slots, { lr, seed: args.seed, step: snap?.step ?? 0, schedulerCount: snap?.schedulerCount ?? 0 });
    if (snap?.grads) group.row(row).grads.set(snap.grads);
    this.placements.set(args.pid, { group, row });
  }

  pids(): number[] {
    return [...this.placements.keys()];
  }

  placement(pid: number): Placement {
    const p = this.placements.get(pid);
    if (!p) throw new PushInputError(`particle ${pid} does not live on device ${this.host.device}`);
    return p;
  }

  /** Everything about a particle, copied (or as views, for sending: the wire copies anyway). */
  snapshot(pid: number, copy = true): ParticleSnapshot {
    const { group, row } = this.placement(pid);
    const r = group.readRow(row);
    const c = (a: Float32Array) => (copy ? a.slice() : a);
    const slots: Record<string, Float32Array> = {};
    group.optimizer.slotNames.forEach((name, i) => (slots[name] = c(r.slots[i])));
    return { params: c(r.params), grads: c(r.grads), slots, step: r.meta.step, schedulerCount: r.meta.schedulerCount };
  }

  /** Parameters and gradients only: what p.get returns. Views unless copy is set. */
  exchange(pid: number, copy: boolean): { params: Float32Array; grads: Float32Array } {
    const { group, row } = this.placement(pid);
    const r = group.readRow(row);
    return copy ? { params: r.params.slice(), grads: r.grads.slice() } : { params: r.params, grads: r.grads };
  }

  restore(pid: number, snap: Partial<ParticleSnapshot>): void {
    const { group, row } = this.placement(pid);
    const r = group.row(row);
    const n = this.network.numParams;
    const check = (a: Float32Array, what: string) => {
      if (a.length !== n) throw new PushInputError(`particle ${pid}: ${a.length} ${what} values given, the model has ${n} parameters`);
    };
    if (snap.params) (check(snap.params, 'parameter'), r.params.set(snap.params));
    if (snap.grads) (check(snap.grads, 'gradient'), r.grads.set(snap.grads));
    if (snap.slots) {
      group.optimizer.slotNames.forEach((name, i) => {
        const s = snap.slots![name];
        if (s) (check(s, name), r.slots[i].set(s));
      });
    }
    if (snap.step !== undefined) r.meta.step = snap.step;
    if (snap.schedulerCount !== undefined) r.meta.schedulerCount = snap.schedulerCount;
    this.invalidate(pid);
  }

  /** Live parameter tensors of a particle, swapping it in (and the least recently used out) if needed. */
  residentParams(pid: number): tf.Tensor[] {
    const { group, row } = this.placement(pid);
    this.admit(pid);
    const tensors = this.live.get(pid) ?? this.network.materialize(group.readRow(row).params);
    this.live.set(pid, tensors);
    return tensors;
  }

  /** Makes pid the most recently used resident particle, evicting the least recently used if full. */
  private admit(pid: number): void {
    if (this.live.has(pid)) {
      const t = this.live.get(pid)!;
      this.live.delete(pid);
      this.live.set(pid, t);
      return;
    }
    while (this.cacheSize > 0 && this.live.size >= this.cacheSize) {
      const [oldest, tensors] = this.live.entries().next().value as [number, tf.Tensor[] | null];
      if (tensors) tf.dispose(tensors);
      this.live.delete(oldest);
      this.swaps++;
    }
    this.live.set(pid, null);
  }

  /** Parameters changed on the host: drop the stale tensors; the particle stays resident. */
  private invalidate(pid: number): void {
    const t = this.live.get(pid);
    if (t) {
      tf.dispose(t);
      this.live.set(pid, null);
    }
  }

  forward(pid: number, x: tf.Tensor, opts: { training?: boolean; dropoutSeed?: number } = {}): tf.Tensor {
    const params = this.residentParams(pid);
    return tf.tidy(() => this.network.forward(params, x, opts));
  }

  /** One particle's step: zero grad, forward, backward, optimizer update. */
  step(pid: number, loss: LossSpec, x: tf.Tensor, y: tf.Tensor): number {
    return this.groupStep([pid], { x, y }, loss)[0];
  }

  /**
   * Steps several particles of this device together: one fused optimizer update
   * per group, in chunks of at most cacheSize resident particles.
   * `batches` is one shared batch or one per particle (same order as pids).
   */
  groupStep(pids: readonly number[], batches: Batch | readonly Batch[], loss: LossSpec, opts: StoreStepOptions = {}): Float32Array {
    const lossFn = parseLoss(loss);
    const losses = new Float32Array(pids.length);
    const chunk = this.cacheSize > 0 ? this.cacheSize : pids.length;
    const perPid = Array.isArray(batches);
    for (let start = 0; start < pids.length; start += chunk) {
      const idx = pids.slice(start, start + chunk).map((_, k) => start + k);
      for (const k of idx) this.admit(pids[k]); // the group uploads its own tensors
      // Particles of one chunk may sit in different optimizer groups.
      const byGroup = new Map<ParticleGroup, number[]>();
      for (const k of idx) {
        const g = this.placement(pids[k]).group;
        byGroup.set(g, [...(byGroup.get(g) ?? []), k]);
      }
      for (const [group, ks] of byGroup) {
        const rows = ks.map((k) => this.placement(pids[k]).row);
        const b = perPid ? ks.map((k) => (batches as readonly Batch[])[k]) : (batches as Batch);
        const sub: GroupStepOptions = {
          ...opts,
          dropoutSeeds: opts.dropoutSeeds && ks.map((k) => opts.dropoutSeeds![k]),
          outputOffsets: opts.outputOffsets && ks.map((k) => opts.outputOffsets![k]),
        };
        const l = group.computeGrads(rows, b, lossFn, sub);
        ks.forEach((k, i) => (losses[k] = l[i]));
        const good = this.screenNonFinite(group, rows, ks.map((k) => pids[k]), l, opts);
        // One fused optimizer update over the rows whose loss and gradient are finite.
        if (good.length) group.updateWithGrads(good, { ascent: opts.ascent });
      }
      for (const k of idx) this.invalidate(pids[k]);
    }
    return losses;
  }

  /** Rows whose loss and gradient are finite; handles the others by policy. */
  private screenNonFinite(group: ParticleGroup, rows: number[], pids: number[], losses: Float32Array, opts: StoreStepOptions): number[] {
    const good: number[] = [];
    const finite = group.finiteGrads(rows);
    rows.forEach((r, i) => {
      if (Number.isFinite(losses[i]) && finite[i]) {
        good.push(r);
        return;
      }
      const policy = opts.nonFinite ?? 'stop';
      if (policy === 'stop') throw new NonFiniteLossError(pids[i], losses[i]);
      if (policy === 'reinit') {
        const row = group.row(r);
        row.meta.seed = (row.meta.seed * 1664525 + 1013904223) >>> 0; // a fresh draw, still determined by the run's seed
        this.network.initParams(row.meta.seed, row.params);
        row.grads.fill(0);
        row.slots.forEach((s) => s.fill(0));
        row.meta.step = 0;
      }
      opts.onNonFinite?.({ pid: pids[i], loss: losses[i], action: policy });
    });
    return good;
  }

  zeroGrad(pid: number): void {
    const { group, row } = this.placement(pid);
    group.row(row).grads.fill(0);
  }

  schedulerStep(pid: number): number {
    const { group, row } = this.placement(pid);
    group.schedulerStep([row]);
    return group.learningRate(row);
  }

  lr(pid: number): number {
    const { group, row } = this.placement(pid);
    return group.learningRate(row);
  }

  stats(): StoreStats {
    const groups = [...this.groups.values()];
    const slots = Math.max(0, ...groups.map((g) => g.optimizer.slotNames.length));
    return {
      particles: this.placements.size,
      resident: this.live.size,
      swaps: this.swaps,
      bytesPerParticle: this.network.numParams * 4 * (2 + slots),
      residentTraining: {
        on: resolveResident(this.opts.resident),
        uploads: groups.reduce((s, g) => s + g.residentCounters.uploads, 0),
        downloads: groups.reduce((s, g) => s + g.residentCounters.downloads, 0),
      },
    };
  }

  dispose(): void {
    for (const g of this.groups.values()) g.dispose();
    for (const t of this.live.values()) if (t) tf.dispose(t);
    this.live.clear();
    this.network.dispose();
  }
}
