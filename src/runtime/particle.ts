// The Particle API that handlers see: `async (p: Particle, ...args) => result`,
// run in the particle's device worker (Push's `receive` table).
import { tf } from '../util/tf';
import type { ParamsAndGrads } from './worker-api';
import type { ParticleStore, LossSpec } from './particle-store';

/** What a Particle needs from its device worker. */
export interface ParticleHost {
  readonly device: string;
  readonly store: ParticleStore;
  roster(): number[];
  sendMessage(fromPid: number, toPid: number, msg: string, args: unknown[]): Promise<unknown>;
  fetchParticle(fromPid: number, pid: number): Promise<ParamsAndGrads>;
  localParticles(): number[];
  emit(name: string, value: unknown): void;
}

export class Particle {
  constructor(
    readonly pid: number,
    /** The user's state dict: free for handlers to read and write; stays in the worker. */
    readonly state: Record<string, unknown>,
    private readonly host: ParticleHost,
  ) {}

  get device(): string {
    return this.host.device;
  }

  /** Advanced: the device's particle store, for group operations over all local particles. */
  get store(): ParticleStore {
    return this.host.store;
  }

  /** Every particle's id, in creation order. */
  particleIds(): number[] {
    return this.host.roster().map((_, pid) => pid);
  }

  /** Every particle's id but this one's. */
  otherParticles(): number[] {
    return this.particleIds().filter((pid) => pid !== this.pid);
  }

  /** Particles living on this particle's device (including itself). */
  localParticles(): number[] {
    return this.host.localParticles();
  }

  /**
   * Runs handler `msg` on particle `pid`, wherever it lives; resolves to its result. Arguments and
   * results follow launch's rules, on this device too: a value a message cannot carry rejects.
   */
  send<T = unknown>(pid: number, msg: string, ...args: unknown[]): Promise<T> {
    return this.host.sendMessage(this.pid, pid, msg, args) as Promise<T>;
  }

  /** A copy of particle `pid`'s current parameters and gradients (flat, in src/nn's documented order). */
  async get(pid: number): Promise<{ params: Float32Array; grads: Float32Array }> {
    return this.host.fetchParticle(this.pid, pid);
  }

  /**
   * Sends a one-way event to the coordinator's PushDist.onEvent listeners (e.g. progress inside a
   * long handler): no reply, nothing to await. It arrives before the result of the handler that
   * sent it. Throttle it: every event is a frame.
   */
  emit(name: string, value: unknown): void {
    this.host.emit(name, value);
  }

  wait<T>(futures: readonly Promise<T>[]): Promise<T[]> {
    return Promise.all(futures);
  }

  /** This particle's network applied to x (dropout off unless training is set). Caller disposes. */
  forward(x: tf.Tensor, opts: { training?: boolean; dropoutSeed?: number } = {}): tf.Tensor {
    return this.host.store.forward(this.pid, x, opts);
  }

  /** Zero grad, forward, backward and one optimizer step on (x, y); returns the loss. */
  step(loss: LossSpec, x: tf.Tensor, y: tf.Tensor): number {
    return this.host.store.step(this.pid, loss, x, y);
  }

  zeroGrad(): void {
    this.host.store.zeroGrad(this.pid);
  }

  /** Advances this particle's learning-rate schedule by one step; returns the new learning rate. */
  schedulerStep(): number {
    return this.host.store.schedulerStep(this.pid);
  }

  /** The current learning rate. */
  get lr(): number {
    return this.host.store.lr(this.pid);
  }

  /** A copy of this particle's flat parameters. */
  parameters(): Float32Array {
    return this.host.store.snapshot(this.pid).params;
  }

  /** Overwrites this particle's flat parameters. */
  setParameters(params: Float32Array): void {
    this.host.store.restore(this.pid, { params });
  }

  /** A copy of this particle's gradients from its last backward pass. */
  gradients(): Float32Array {
    return this.host.store.snapshot(this.pid).grads;
  }
}
