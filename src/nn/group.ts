// A group of P particles of one network, stored host-canonically: parameters,
// gradients and optimizer slots are [P, n] Float32Arrays (row p = particle p),
// plus a learning rate, step count, scheduler count and seed per row.
//
// A group step computes every listed row's loss and gradient, then runs ONE
// fused optimizer update over those rows. Gradients come from:
//   - a loop of per-particle passes with 2-D matMuls (wasm, cpu: batched matMul
//     is ~15x slower per FLOP on wasm), explicit backward for dense stacks;
//   - or, for dense stacks on the tensorflow backend (or when asked), one
//     batched pass over weights stacked to [P, in, out].
// Both give the same numbers as stepping each particle on its own.
//
// Resident mode (default on the tensorflow backend) keeps parameters, gradients
// and slots on the backend as [P, n] tensors between host sync points (see
// resident-state.ts); the host buffers are brought up to date when read.
import { tf } from '../util/tf';
import { PushInputError, describeValue } from '../util/errors';
import { deriveSeed } from '../util/rng';
import { Network } from './network';
import { reshapeInput } from './shapes';
import { Loss, LossName, parseLoss } from './losses';
import { FusedOptimizer, OptimizerConfig, OptimizerInput, RowUpdate, createOptimizer } from './optimizers';
import { SchedulerConfig, SchedulerInput, lrAt, parseSchedulerConfig } from './schedulers';
import { EXPLICIT_UNSUPPORTED, GradientMethod, explicitPath, lossAndGradPrepared, scaleInPlace } from './gradients';
import { convBatch, convExplicitSupported, convLossAndGrad } from './conv-backward';
import { DenseParams, denseBatch, denseForward, denseLossAndGrad, uploadDenseParams } from './dense-backward';
import { foldedBatch, foldedLossAndGrad, foldedSupported } from './dense-folded';
import { directBatch, directLossAndGrad, directSupported } from './dense-direct';

/** A per-particle dense pass on the particle's host row: its shared batch, and loss and gradient of one row. */
interface HostRowPass<B> {
  batch(network: Network, x: tf.Tensor): B;
  lossAndGrad(network: Network, params: Float32Array, batch: B, target: tf.Tensor, loss: Loss, gradRow: Float32Array, outputOffset?: tf.Tensor): number;
}
import { HostBuffers, ResidentCounters, ResidentState } from './resident-state';
import { residentLossAndGrads } from './resident-grads';
import { tensorUpdate } from './tensor-optimizers';
import { allocateHostBuffers } from './wasm/optim-kernel';

export interface RowMeta {
  /** Base learning rate (before the scheduler). */
  lr: number;
  /** Optimizer steps taken so far. */
  step: number;
  /** scheduler.step() calls so far. */
  schedulerCount: number;
  /** The particle's seed: its initial weights (when not given) and default dropout masks derive from it. */
  seed: number;
  /** The scheduler does not scale lr (a constant rate, e.g. MultiSWAG's swagLr phase). */
  constantLr?: boolean;
}

export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor;
}

export interface GroupOptions {
  /** Default adam (PyTorch defaults). */
  optimizer?: OptimizerInput | OptimizerConfig;
  scheduler?: SchedulerInput | SchedulerConfig;
  /**
   * Stack dense-stack particles into one batched matMul pass. 'auto' (default): only on
   * the tensorflow backend (on wasm it is slower than a loop of 2-D matMuls).
   */
  batchedMatmul?: boolean | 'auto';
  /** 'auto' (default): explicit backward for dense stacks, autodiff otherwise. */
  gradientMethod?: GradientMethod;
  /** Rows to allocate up front. */
  initialCapacity?: number;
  /** Base seed of the default per-row seeds (row seed = deriveSeed(seed, k) for the k-th add). */
  seed?: number;
  /**
   * Keep parameters, gradients and optimizer slots on the backend between host sync points.
   * 'auto' (default): only on the tensorflow backend.
   */
  resident?: boolean | 'auto';
}

/** Whether a resident option means resident training on the current backend. */
export function resolveResident(option: boolean | 'auto' | undefined): boolean {
  if (option === undefined || option === 'auto') return tf.getBackend() === 'tensorflow';
  if (typeof option !== 'boolean') throw new PushInputError(`resident ${describeValue(option)}: expected true, false or "auto"`);
  return option;
}

export interface GroupStepOptions {
  /** One per row: dropout mask seeds. Default deriveSeed(meta.seed, meta.step). */
  dropoutSeeds?: number[];
  /** One per row, [B, outputSize]: added to the output before the loss (random-prior networks). */
  outputOffsets?: tf.Tensor[];
  /** Ascend the loss instead of descending it. */
  ascent?: boolean;
  /** Dropout active (default true). */
  training?: boolean;
  /** Multiplies the gradients (not the returned losses); default 1. */
  gradScale?: number;
}

export interface PredictOptions {
  /** Dropout active (MC dropout); default false. */
  training?: boolean;
  /** One per row, used when training. Default deriveSeed(meta.seed, meta.step). */
  dropoutSeeds?: number[];
  /** One dropout mask per row over units, shared by every input (see ForwardOptions.sharedDropoutMask). */
  sharedDropoutMask?: boolean;
}

/**
 * Views into one row of the group's buffers (invalidated when the group grows or shrinks,
 * and in resident mode by the next step).
 */
export interface ParticleRow {
  params: Float32Array;
  grads: Float32Array;
  slots: Float32Array[];
  meta: RowMeta;
}

/** A copy of one row, to move a particle to another group or worker. */
export interface ParticleSnapshot {
  params: Float32Array;
  slots: Float32Array[];
  meta: RowMeta;
}

interface GradRun {
  rows: readonly number[];
  batches: Batch | readonly Batch[];
  loss: Loss;
  training: boolean;
  seeds: number[];
  offsets?: tf.Tensor[];
}

export class ParticleGroup {
  readonly optimizer: FusedOptimizer;
  readonly scheduler: SchedulerConfig | null;
  /** Parameters per particle. */
  readonly n: number;
  private readonly batchedOption: boolean | 'auto';
  private readonly gradientMethod: GradientMethod;
  private readonly baseSeed: number;
  private added = 0;
  private capacity: number;
  private paramBuf: Float32Array;
  private gradBuf: Float32Array;
  private slotBufs: Float32Array[];
  private readonly metas: RowMeta[] = [];
  /** The device copy in resident mode, else null. */
  private readonly device: ResidentState | null;

  constructor(
    readonly network: Network,
    opts: GroupOptions = {},
  ) {
    this.optimizer = createOptimizer(opts.optimizer ?? 'adam');
    this.scheduler = opts.scheduler ? parseSchedulerConfig(opts.scheduler) : null;
    this.n = network.numParams;
    this.batchedOption = opts.batchedMatmul ?? 'auto';
    if (this.batchedOption !== 'auto' && typeof this.batchedOption !== 'boolean') {
      throw new PushInputError(`batchedMatmul ${describeValue(this.batchedOption)}: expected true, false or "auto"`);
    }
    this.gradientMethod = opts.gradientMethod ?? 'auto';
    if (this.gradientMethod === 'explicit' && !network.isDenseStack && !convExplicitSupported(network)) {
      throw new PushInputError(`gradientMethod "explicit" ${EXPLICIT_UNSUPPORTED}`);
    }
    if (!['auto', 'explicit', 'autodiff'].includes(this.gradientMethod)) {
      throw new PushInputError(`gradientMethod ${describeValue(this.gradientMethod)}: expected "auto", "explicit" or "autodiff"`);
    }
    this.baseSeed = opts.seed ?? 0;
    this.capacity = Math.max(1, opts.initialCapacity ?? 4);
    [this.paramBuf, this.gradBuf, ...this.slotBufs] = this.allocate(this.capacity);
    this.device = resolveResident(opts.resident) ? new ResidentState(this.n, this.slotBufs.length) : null;
  }

  /** Whether parameters, gradients and slots stay on the backend between host sync points. */
  get resident(): boolean {
    return this.device !== null;
  }

  /** Uploads and read-backs of the resident copy so far (zeros on the host path). */
  get residentCounters(): ResidentCounters {
    return this.device ? { ...this.device.counters } : { uploads: 0, downloads: 0 };
  }

  /** Number of particles. */
  get size(): number {
    return this.metas.length;
  }
  /** [size, n] view of all parameters. */
  get params(): Float32Array {
    this.hostForWrite();
    return this.paramBuf.subarray(0, this.size * this.n);
  }
  /** [size, n] view of the last computed gradients. */
  get grads(): Float32Array {
    this.hostForWrite();
    return this.gradBuf.subarray(0, this.size * this.n);
  }
  /** One [size, n] view per optimizer slot (optimizer.slotNames order). */
  get slots(): Float32Array[] {
    this.hostForWrite();
    return this.slotBufs.map((s) => s.subarray(0, this.size * this.n));
  }

  /**
   * Adds a particle; returns its row. Parameters default to network.initParams(meta.seed),
   * slots to zeros, meta to { lr: optimizer lr, step 0, schedulerCount 0, seed: deriveSeed(group seed, k) }.
   */
  add(params?: Float32Array, slots?: Float32Array[], meta: Partial<RowMeta> = {}): number {
    if (params !== undefined && (!(params instanceof Float32Array) || params.length !== this.n)) {
      throw new PushInputError(`particle parameters have ${params instanceof Float32Array ? params.length : typeof params} values: expected a Float32Array of ${this.n}`);
    }
    if (slots !== undefined && (slots.length !== this.slotBufs.length || slots.some((s) => s.length !== this.n))) {
      throw new PushInputError(`particle optimizer state has ${slots.length} slots: expected ${this.slotBufs.length} (${this.optimizer.slotNames.join(', ')}) of ${this.n} values each`);
    }
    const full: RowMeta = {
      lr: meta.lr ?? this.optimizer.config.lr,
      step: meta.step ?? 0,
      schedulerCount: meta.schedulerCount ?? 0,
      seed: meta.seed ?? deriveSeed(this.baseSeed, this.added),
    };
    this.added++;
    this.hostForWrite();
    if (this.size === this.capacity) this.grow(this.capacity * 2);
    const row = this.size;
    this.metas.push(full);
    const start = row * this.n;
    const view = this.paramBuf.subarray(start, start + this.n);
    if (params) view.set(params);
    else this.network.initParams(full.seed, view);
    this.gradBuf.fill(0, start, start + this.n);
    this.slotBufs.forEach((buf, i) => (slots ? buf.set(slots[i], start) : buf.fill(0, start, start + this.n)));
    return row;
  }

  /** Removes a row; rows after it move down by one. */
  remove(row: number): void {
    this.checkRow(row);
    this.hostForWrite();
    const n = this.n;
    const end = this.size * n;
    for (const buf of [this.paramBuf, this.gradBuf, ...this.slotBufs]) buf.copyWithin(row * n, (row + 1) * n, end);
    this.metas.splice(row, 1);
  }

  /** Writable views of a row (in resident mode the device copy is read back, then dropped: the next step uploads). */
  row(i: number): ParticleRow {
    this.hostForWrite();
    return this.readRow(i);
  }

  /** Read-only views of a row: brings the host up to date without dropping the device copy. Do not write through them. */
  readRow(i: number): ParticleRow {
    this.checkRow(i);
    this.device?.syncHost(this.hostBuffers());
    const s = i * this.n;
    const e = s + this.n;
    return { params: this.paramBuf.subarray(s, e), grads: this.gradBuf.subarray(s, e), slots: this.slotBufs.map((b) => b.subarray(s, e)), meta: this.metas[i] };
  }

  /** A copy of a row's parameters, slots and meta. */
  snapshot(i: number): ParticleSnapshot {
    const r = this.readRow(i);
    return { params: r.params.slice(), slots: r.slots.map((s) => s.slice()), meta: { ...r.meta } };
  }

  meta(i: number): RowMeta {
    this.checkRow(i);
    return this.metas[i];
  }

  /** The learning rate the next update of this row uses (scheduler applied). */
  learningRate(row: number): number {
    const m = this.meta(row);
    return this.scheduler && !m.constantLr ? lrAt(this.scheduler, m.lr, m.schedulerCount) : m.lr;
  }

  /** One scheduler.step() for each listed row (default all). */
  schedulerStep(rows: readonly number[] = this.allRows()): void {
    for (const r of rows) this.meta(r).schedulerCount++;
  }

  /** Whether gradients and predictions use one batched matMul pass over stacked weights. */
  usesBatchedMatmul(): boolean {
    if (!this.network.isDenseStack || this.gradientMethod === 'autodiff') return false;
    return this.batchedOption === 'auto' ? tf.getBackend() === 'tensorflow' : this.batchedOption;
  }

  /** Loss and gradient of each listed row (gradients into the grads buffer, no update); returns the losses. */
  computeGrads(rows: readonly number[], batches: Batch | readonly Batch[], loss: Loss | LossName, opts: GroupStepOptions = {}): Float32Array {
    this.checkRows(rows);
    const lossFn = parseLoss(loss);
    if (Array.isArray(batches) && batches.length !== rows.length) {
      throw new PushInputError(`got ${batches.length} batches for ${rows.length} particles: expected one shared batch or one per particle`);
    }
    if (opts.outputOffsets && opts.outputOffsets.length !== rows.length) {
      throw new PushInputError(`got ${opts.outputOffsets.length} output offsets for ${rows.length} particles`);
    }
    const run: GradRun = { rows, batches, loss: lossFn, training: opts.training ?? true, seeds: this.dropoutSeeds(rows, opts.dropoutSeeds), offsets: opts.outputOffsets };
    if (this.device) return this.residentGrads(this.device, run, opts.gradScale ?? 1);
    const path = explicitPath(this.network, this.gradientMethod);
    const losses = path === 'dense' ? this.denseGrads(run) : path === 'conv' ? this.convGrads(run) : this.autodiffGrads(run);
    const scale = opts.gradScale ?? 1;
    if (scale !== 1) for (const r of rows) scaleInPlace(this.row(r).grads, scale);
    return losses;
  }

  /** Runs the optimizer on the listed rows with the given gradients ([rows.length, n]). */
  applyUpdate(rows: readonly number[], direction: Float32Array, opts: { ascent?: boolean } = {}): void {
    this.checkRows(rows);
    if (direction.length !== rows.length * this.n) {
      throw new PushInputError(`update direction has ${direction.length} values: expected ${rows.length} rows of ${this.n}`);
    }
    if (this.device) {
      const positions = this.device.hold(rows, this.hostBuffers());
      this.device.setGrads(positions, tf.tensor2d(direction.slice(), [rows.length, this.n]));
    } else {
      rows.forEach((r, k) => this.gradBuf.set(direction.subarray(k * this.n, (k + 1) * this.n), r * this.n));
    }
    this.update(rows, opts.ascent ?? false);
  }

  /** Runs the optimizer on the listed rows with their last computed gradients. */
  updateWithGrads(rows: readonly number[], opts: { ascent?: boolean } = {}): void {
    this.checkRows(rows);
    this.update(rows, opts.ascent ?? false);
  }

  /** Per listed row: whether its last gradient is all finite (resident: one tensor reduction, no readback). */
  finiteGrads(rows: readonly number[]): boolean[] {
    this.checkRows(rows, false);
    if (!this.device) return rows.map((r) => allFinite(this.readRow(r).grads));
    return this.device.finiteGrads(this.device.hold(rows, this.hostBuffers()));
  }

  /** Frees the resident copy (the host buffers keep the state). */
  dispose(): void {
    this.hostForWrite();
  }

  /** computeGrads, then one fused optimizer update over the rows. Returns the losses. */
  step(rows: readonly number[], batches: Batch | readonly Batch[], loss: Loss | LossName, opts: GroupStepOptions = {}): Float32Array {
    const losses = this.computeGrads(rows, batches, loss, opts);
    this.update(rows, opts.ascent ?? false);
    return losses;
  }

  /** Outputs of the listed rows on x: [rows.length, B, outputSize] (caller disposes). */
  predict(rows: readonly number[], x: tf.Tensor, opts: PredictOptions = {}): tf.Tensor {
    this.checkRows(rows, false);
    const training = opts.training ?? false;
    const seeds = training ? this.dropoutSeeds(rows, opts.dropoutSeeds) : rows.map(() => 0);
    const sharedDropoutMask = !!opts.sharedDropoutMask;
    this.device?.syncHost(this.hostBuffers());
    const P = rows.length;
    if (P === 0) return tf.zeros([0, x.shape[0], this.network.outputSize]);
    if (!this.network.isDenseStack) {
      return tf.tidy(() =>
        tf.stack(rows.map((r, k) => this.network.forward(this.network.materialize(this.readRow(r).params), x, { training, dropoutSeed: seeds[k], sharedDropoutMask }))),
      );
    }
    return tf.tidy(() => {
      const flatIn = this.network.inputShape.reduce((a, b) => a * b, 1);
      const x3 = tf.reshape(reshapeInput(x, [flatIn]), [1, x.shape[0], flatIn]);
      const outs = this.usesBatchedMatmul()
        ? [denseForward(this.network, this.uploadRows(rows, false), x3, { training, dropoutSeeds: seeds, sharedDropoutMask }).output]
        : rows.map((r, k) => denseForward(this.network, this.uploadRows([r], false), x3, { training, dropoutSeeds: [seeds[k]], sharedDropoutMask }).output);
      const out = outs.length === 1 ? outs[0] : tf.concat(outs, 0);
      return out.shape[0] === P ? out : tf.broadcastTo(out, [P, ...out.shape.slice(1)]);
    });
  }

  // ------------------------------------------------------------------ internals

  private update(rows: readonly number[], ascent: boolean): void {
    const updates: RowUpdate[] = rows.map((r) => {
      const meta = this.metas[r];
      const lr = this.learningRate(r);
      meta.step++;
      return { row: r, lr, step: meta.step };
    });
    if (this.device) return this.residentUpdate(this.device, updates, ascent);
    this.optimizer.update(this.paramBuf, this.gradBuf, this.slotBufs, updates, this.n, { maximize: ascent });
  }

  private residentGrads(device: ResidentState, run: GradRun, scale: number): Float32Array {
    const positions = device.hold(run.rows, this.hostBuffers());
    const explicit = this.network.isDenseStack && this.gradientMethod !== 'autodiff';
    let losses: Float32Array = new Float32Array(0);
    const grads = tf.tidy(() => {
      const out = residentLossAndGrads(this.network, device.paramsAt(positions), { ...run, explicit, batched: this.usesBatchedMatmul() });
      losses = out.losses;
      return scale === 1 ? out.grads : tf.mul(out.grads, scale);
    });
    device.setGrads(positions, grads);
    return losses;
  }

  private residentUpdate(device: ResidentState, updates: RowUpdate[], ascent: boolean): void {
    const positions = device.hold(
      updates.map((u) => u.row),
      this.hostBuffers(),
    );
    const next = tf.tidy(() => {
      const state = { params: device.paramsAt(positions), slots: device.slotsAt(positions) };
      const out = tensorUpdate(this.optimizer.config, state, device.gradsAt(positions), updates, ascent);
      return [out.params, ...out.slots];
    });
    device.setState(positions, next[0], next.slice(1));
  }

  private hostBuffers(): HostBuffers {
    return { params: this.paramBuf, grads: this.gradBuf, slots: this.slotBufs };
  }

  /** Before a host write: bring the host up to date and drop the device copy. */
  private hostForWrite(): void {
    if (!this.device) return;
    this.device.syncHost(this.hostBuffers());
    this.device.drop();
  }

  /** Explicit backward for dense stacks: one batched pass, or a loop of per-particle passes. */
  private denseGrads(run: GradRun): Float32Array {
    const { rows, batches, loss, training, seeds, offsets } = run;
    const k = this.network.outputSize;
    const losses = new Float32Array(rows.length);
    const perRow = Array.isArray(batches);
    const list = batches as readonly Batch[];
    const sameBatchSize = !perRow || list.every((b) => b.x.shape[0] === list[0].x.shape[0]);
    // Never return a typed array from tf.tidy (it walks containers element by element): write into `losses`.
    tf.tidy(() => {
      if (this.usesBatchedMatmul() && sameBatchSize) {
        const x = perRow ? denseBatch(this.network, tf.stack(list.map((b) => b.x)), true) : denseBatch(this.network, (batches as Batch).x);
        const target = perRow ? tf.stack(list.map((b) => loss.prepareTarget(b.y, k))) : loss.prepareTarget((batches as Batch).y, k);
        const gradRows = rows.map((r) => this.row(r).grads);
        const offset = offsets ? tf.stack(offsets) : undefined;
        losses.set(denseLossAndGrad(this.network, this.uploadRows(rows), x, target, loss, gradRows, { training, dropoutSeeds: seeds, outputOffset: offset }));
        return;
      }
      const sharedTarget = perRow ? null : loss.prepareTarget((batches as Batch).y, k);
      // The folded (small layers) and direct (wide layers) passes: one particle at a time, the batch shared.
      const pass: HostRowPass<unknown> | null = foldedSupported(this.network, training)
        ? { batch: foldedBatch, lossAndGrad: foldedLossAndGrad }
        : directSupported(this.network, training)
          ? { batch: directBatch, lossAndGrad: directLossAndGrad }
          : null;
      if (pass) {
        const shared = perRow ? null : pass.batch(this.network, (batches as Batch).x);
        rows.forEach((r, i) =>
          tf.tidy(() => {
            const x = shared ?? pass.batch(this.network, list[i].x);
            const target = sharedTarget ?? loss.prepareTarget(list[i].y, k);
            losses[i] = pass.lossAndGrad(this.network, this.readRow(r).params, x, target, loss, this.row(r).grads, offsets?.[i]);
          }),
        );
        return;
      }
      const sharedX = perRow ? null : denseBatch(this.network, (batches as Batch).x);
      rows.forEach((r, i) =>
        tf.tidy(() => {
          const x = sharedX ?? denseBatch(this.network, list[i].x);
          const target = sharedTarget ?? loss.prepareTarget(list[i].y, k);
          const ps = this.uploadRows([r]);
          const opts = { training, dropoutSeeds: [seeds[i]], outputOffset: offsets?.[i] };
          losses[i] = denseLossAndGrad(this.network, ps, x, target, loss, [this.row(r).grads], opts)[0];
        }),
      );
    });
    return losses;
  }

  /** Explicit conv backward, one particle at a time; a shared batch (and its first im2col) is prepared once. */
  private convGrads(run: GradRun): Float32Array {
    const { rows, batches, loss, training, seeds, offsets } = run;
    const k = this.network.outputSize;
    const losses = new Float32Array(rows.length);
    const perRow = Array.isArray(batches);
    tf.tidy(() => {
      const shared = perRow ? null : convBatch(this.network, (batches as Batch).x);
      const sharedTarget = perRow ? null : loss.prepareTarget((batches as Batch).y, k);
      rows.forEach((r, i) =>
        tf.tidy(() => {
          const b = (batches as readonly Batch[])[i];
          const x = shared ?? convBatch(this.network, b.x);
          const target = sharedTarget ?? loss.prepareTarget(b.y, k);
          const params = this.network.materialize(this.row(r).params);
          const opts = { training, dropoutSeed: seeds[i], outputOffset: offsets?.[i], paramRow: this.row(r).params };
          losses[i] = convLossAndGrad(this.network, params, x, target, loss, this.row(r).grads, opts);
        }),
      );
    });
    return losses;
  }

  /** Autodiff (tf.valueAndGrads), one particle at a time. */
  private autodiffGrads(run: GradRun): Float32Array {
    const { rows, batches, loss, training, seeds, offsets } = run;
    const losses = new Float32Array(rows.length);
    const perRow = Array.isArray(batches);
    const sharedTarget = perRow ? null : loss.prepareTarget((batches as Batch).y, this.network.outputSize);
    try {
      rows.forEach((r, i) => {
        const batch = perRow ? (batches as readonly Batch[])[i] : (batches as Batch);
        const params = this.network.materialize(this.row(r).params);
        const target = sharedTarget ?? loss.prepareTarget(batch.y, this.network.outputSize);
        try {
          losses[i] = lossAndGradPrepared(this.network, params, batch.x, target, loss, this.row(r).grads, {
            training,
            dropoutSeed: seeds[i],
            outputOffset: offsets?.[i],
            method: 'autodiff',
          });
        } finally {
          tf.dispose(params);
          if (target !== sharedTarget && target !== batch.y) target.dispose();
        }
      });
    } finally {
      if (sharedTarget && sharedTarget !== (batches as Batch).y) sharedTarget.dispose();
    }
    return losses;
  }

  private uploadRows(rows: readonly number[], withTransposed = true): DenseParams {
    return uploadDenseParams(this.network, rows.map((r) => this.readRow(r).params), withTransposed);
  }

  private dropoutSeeds(rows: readonly number[], given?: number[]): number[] {
    if (given) {
      if (given.length !== rows.length) throw new PushInputError(`got ${given.length} dropout seeds for ${rows.length} particles`);
      return given;
    }
    return rows.map((r) => deriveSeed(this.metas[r].seed, this.metas[r].step));
  }

  private allRows(): number[] {
    return this.metas.map((_, i) => i);
  }

  /**
   * Params, grads and slots for `capacity` rows: views of one wasm memory that the optimizer
   * kernel updates in place (never grown: growing would detach them), or plain arrays.
   */
  private allocate(capacity: number): Float32Array[] {
    return allocateHostBuffers(2 + this.optimizer.slotNames.length, capacity * this.n);
  }

  private grow(capacity: number): void {
    const next = this.allocate(capacity);
    [this.paramBuf, this.gradBuf, ...this.slotBufs].forEach((buf, i) => next[i].set(buf.subarray(0, this.size * this.n)));
    [this.paramBuf, this.gradBuf, ...this.slotBufs] = next;
    this.capacity = capacity;
  }

  private checkRow(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.size) throw new PushInputError(`particle row ${describeValue(row)}: expected an integer in [0, ${this.size})`);
  }

  private checkRows(rows: readonly number[], unique = true): void {
    rows.forEach((r) => this.checkRow(r));
    if (unique && new Set(rows).size !== rows.length) throw new PushInputError(`particle rows ${describeValue(rows)} repeat a row: each row may be updated once per step`);
  }
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}
