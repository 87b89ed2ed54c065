// The device copy of a ParticleGroup's state in resident mode: parameters,
// gradients and each optimizer slot of the rows it holds, as one [H, n]
// backend tensor each (H = rows held, in `rows` order). The group's host
// buffers stay the canonical layout; this copy runs ahead of them between
// host sync points (checkpoints, snapshots, get, swaps, NaN handling):
//   - syncHost() reads the device rows back into the host buffers;
//   - drop() forgets the device copy after the host is written;
//   - hold(rows) makes the device hold exactly the rows a step needs,
//     uploading from the host when it does not hold them already (a cache swap
//     first reads the outgoing rows back, so optimizer state is never lost).
import { tf } from '../util/tf';

/** The host buffers of a group, [capacity, n] each. */
export interface HostBuffers {
  params: Float32Array;
  grads: Float32Array;
  slots: Float32Array[];
}

export interface ResidentCounters {
  /** Row sets uploaded to the device. */
  uploads: number;
  /** Device state read back to the host. */
  downloads: number;
}

export class ResidentState {
  /** Group rows held on the device, in tensor-row order. */
  private held: number[] = [];
  private params: tf.Tensor | null = null;
  private grads: tf.Tensor | null = null;
  private slots: tf.Tensor[] = [];
  /** The device has changes the host buffers lack. */
  private ahead = false;
  readonly counters: ResidentCounters = { uploads: 0, downloads: 0 };

  constructor(
    private readonly n: number,
    private readonly slotCount: number,
  ) {}

  /** Rows held on the device. */
  get rows(): readonly number[] {
    return this.held;
  }

  /** Reads device changes back into the host buffers (no-op when the host is current). */
  syncHost(host: HostBuffers): void {
    if (!this.ahead || !this.params) return;
    const copy = (t: tf.Tensor, buf: Float32Array) => {
      const data = t.dataSync() as Float32Array;
      this.held.forEach((r, i) => buf.set(data.subarray(i * this.n, (i + 1) * this.n), r * this.n));
    };
    copy(this.params, host.params);
    copy(this.grads!, host.grads);
    this.slots.forEach((s, i) => copy(s, host.slots[i]));
    this.ahead = false;
    this.counters.downloads++;
  }

  /** Forgets the device copy (call after syncHost, before writing the host). */
  drop(): void {
    tf.dispose([this.params, this.grads, ...this.slots].filter((t): t is tf.Tensor => t !== null));
    this.params = this.grads = null;
    this.slots = [];
    this.held = [];
    this.ahead = false;
  }

  /** Positions of `rows` in the device tensors, holding them first (a swap if the device holds other rows). */
  hold(rows: readonly number[], host: HostBuffers): number[] {
    const pos = new Map(this.held.map((r, i) => [r, i]));
    if (this.params && rows.every((r) => pos.has(r))) return rows.map((r) => pos.get(r)!);
    this.syncHost(host);
    this.drop();
    const upload = (buf: Float32Array) => {
      const data = new Float32Array(rows.length * this.n);
      rows.forEach((r, i) => data.set(buf.subarray(r * this.n, (r + 1) * this.n), i * this.n));
      return tf.keep(tf.tensor2d(data, [rows.length, this.n]));
    };
    this.params = upload(host.params);
    this.grads = upload(host.grads);
    this.slots = host.slots.slice(0, this.slotCount).map(upload);
    this.held = [...rows];
    this.counters.uploads++;
    return rows.map((_, i) => i);
  }

  /** Parameters of the rows at `positions`, [R, n] (a view when they are all rows in order). Call inside tf.tidy. */
  paramsAt(positions: readonly number[]): tf.Tensor {
    return this.take(this.params!, positions);
  }
  gradsAt(positions: readonly number[]): tf.Tensor {
    return this.take(this.grads!, positions);
  }
  slotsAt(positions: readonly number[]): tf.Tensor[] {
    return this.slots.map((s) => this.take(s, positions));
  }

  /** Replaces the gradients of the rows at `positions` (takes ownership of `grads`, [R, n]). */
  setGrads(positions: readonly number[], grads: tf.Tensor): void {
    this.grads = this.replace(this.grads!, positions, grads);
    this.ahead = true;
  }

  /** Replaces the parameters and slots of the rows at `positions` (takes ownership). */
  setState(positions: readonly number[], params: tf.Tensor, slots: tf.Tensor[]): void {
    this.params = this.replace(this.params!, positions, params);
    this.slots = this.slots.map((s, i) => this.replace(s, positions, slots[i]));
    this.ahead = true;
  }

  /** Per position: whether every gradient value is finite (one small reduction, not a readback of the gradients). */
  finiteGrads(positions: readonly number[]): boolean[] {
    const ok = tf.tidy(() => tf.all(tf.isFinite(this.gradsAt(positions)), 1));
    const data = ok.dataSync();
    ok.dispose();
    return Array.from(data, (v) => v !== 0);
  }

  /** Live tensors held (for leak checks). */
  get tensorCount(): number {
    return (this.params ? 2 : 0) + this.slots.length;
  }

  private isAll(positions: readonly number[]): boolean {
    return positions.length === this.held.length && positions.every((p, i) => p === i);
  }

  private take(t: tf.Tensor, positions: readonly number[]): tf.Tensor {
    return this.isAll(positions) ? t : tf.gather(t, Array.from(positions));
  }

  /** `full` with the rows at `positions` replaced by `rows` ([R, n]); disposes the old tensors. */
  private replace(full: tf.Tensor, positions: readonly number[], rows: tf.Tensor): tf.Tensor {
    if (this.isAll(positions)) {
      if (rows !== full) full.dispose();
      return tf.keep(rows);
    }
    const at = new Map(positions.map((p, k) => [p, k]));
    const merged = tf.tidy(() =>
      tf.concat(
        this.held.map((_, j) => (at.has(j) ? tf.slice(rows, [at.get(j)!, 0], [1, this.n]) : tf.slice(full, [j, 0], [1, this.n]))),
        0,
      ),
    );
    full.dispose();
    rows.dispose();
    return tf.keep(merged);
  }
}
