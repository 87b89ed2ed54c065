// PushDist: the coordinator. It lives in the main thread, starts one worker per
// device, assigns particles to devices, routes every frame between workers by
// its header, and turns worker failures into rejected futures.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PushHandlerError, PushInputError, PushWorkerError, describeValue } from '../util/errors';
import { particleSeed } from '../util/rng';
import { Device, parseDeviceList } from './devices';
import { DeviceLink, ProcessLink, ThreadLink } from './links';
import { RelayBufferPool, frameBytes, materialize, release } from './stream-frames';
import { remoteHandlerNames } from './nats/handler-names';
import { PendingReplies } from './pending';
import { BY_PID, COORDINATOR, ControlOp, DEVICE_CALL, Header, SerializedError } from './protocol';
import { checkSendable, decodeBody, decodeHeader, encodeFrame, nameUnsendable } from './wire';
import { Isolation, WorkerPlan, checkNativePackages, planWorker } from './worker-plan';
import type { DeviceStats, InitArgs, CreateArgs, ParticleSnapshot } from './worker-api';
import type { NatsOptions } from './nats/options';
import type * as Remote from './nats/remote';

export interface PushDistOptions {
  /** Device list: "cpu:0,cpu:1" or ["cuda:0", "cuda:1"]. Default ["cpu:0"]. */
  devices?: string | readonly string[];
  /** The network every particle holds: a model spec (see src/nn). */
  model: unknown;
  /** Path or URL of an ES/CommonJS module whose named exports are the message handlers; several allowed. */
  handlers?: string | URL | readonly (string | URL)[];
  /** Particles per device that hold live tensors; the rest wait in host memory. Default: no limit. */
  cacheSize?: number;
  /** Backend of CPU devices: "wasm" (default), "cpu" or "tensorflow". CUDA devices always use "tensorflow". */
  backend?: string;
  /** "thread" (default) or "process": how CPU devices are isolated. */
  isolation?: Isolation | string;
  /** Base seed: particle k's seed is derived from it unless createParticle gives one. Default 0. */
  seed?: number;
  /**
   * Timeout for one message, in ms: a device that does not answer a handler call or a
   * control message within it is taken for dead -- the message fails with
   * PushTimeoutError, the worker is killed (a thread terminated, a process sent SIGKILL,
   * which also ends a stopped one), its other pending messages fail as for a death, and
   * restartDevice can replace it. `init` waits at least 60 s (loading a backend can be
   * slow). Default: none (a dead worker still fails its messages).
   */
  timeoutMs?: number;
  /** Device-resident training: parameters, gradients and optimizer state stay on the backend between host sync points. Default: on the tensorflow backend (cuda:N) only. */
  resident?: boolean;
  /** NATS servers and credentials for remote devices ("HOST/cpu:0"), served by `push-ens worker` (docs/CLUSTER.md). */
  nats?: NatsOptions;
}

export interface CreateParticleOptions {
  device?: string;
  optimizer?: Record<string, unknown>;
  scheduler?: Record<string, unknown>;
  seed?: number;
  state?: Record<string, unknown>;
  /** Initial flat parameters (and optimizer state) instead of a fresh initialisation. */
  snapshot?: ParticleSnapshot;
}

interface DeviceSlot {
  index: number;
  device: Device;
  plan: WorkerPlan;
  link: DeviceLink;
  dead?: string;
  particles: number[];
  messages: number;
  bytesIn: number;
  bytesOut: number;
}

export interface DeviceReport extends DeviceStats {
  device: string;
  transport: WorkerPlan['transport'];
  backend: string;
  messages: number;
  bytesMoved: number;
}

/** A one-way event a handler sent with p.emit. */
export interface WorkerEvent {
  device: string;
  name: string;
  value: unknown;
}

export class PushDist implements AsyncDisposable {
  private readonly slots: DeviceSlot[];
  /** While nothing is pending, idle workers do not keep the process alive (a script that forgets close() still ends). */
  private readonly pending = new PendingReplies('c', (busy) => this.slots?.forEach((s) => s.link.hold(busy)));
  /** Requests between workers in flight through the coordinator: id -> origin device. */
  private readonly relayed = new Map<string, { from: number; to: number }>();
  private readonly pidDevice: number[] = [];
  private readonly relayPool = new RelayBufferPool();
  private readonly particleReady: Promise<unknown>[] = [];
  private readonly createArgs: CreateArgs[] = [];
  private nextDevice = 0;
  private readonly eventListeners = new Set<(e: WorkerEvent) => void>();
  private listenerFailed = false;
  private closed = false;
  private closing?: Promise<void>;

  private constructor(
    plans: WorkerPlan[],
    private readonly opts: PushDistOptions,
    /** The NATS connection of remote devices, and their claimed sessions by device index. */
    private readonly remote?: Remote.RemoteDevices,
    remoteLinks: ReadonlyMap<number, DeviceLink> = new Map(),
  ) {
    this.slots = plans.map((plan, index) => {
      const slot = { index, device: plan.device, plan, particles: [], messages: 0, bytesIn: 0, bytesOut: 0 } as unknown as DeviceSlot;
      this.startWorker(slot, remoteLinks.get(index));
      return slot;
    });
  }

  private startWorker(slot: DeviceSlot, remoteLink?: DeviceLink): void {
    const link =
      remoteLink ??
      (slot.plan.transport === 'thread'
        ? new ThreadLink(slot.plan.env)
        : new ProcessLink(slot.plan.env, this.relayPool, (stub) => decodeHeader<Header>(stub).to !== COORDINATOR));
    slot.link = link;
    slot.dead = undefined;
    link.hold(this.pending.size > 0);
    link.onFrame((f) => this.onWorkerFrame(slot, f));
    link.onDeath((reason) => this.onWorkerDeath(slot, reason));
  }

  private initArgs(slot: DeviceSlot): InitArgs {
    return {
      deviceIndex: slot.index,
      device: slot.device.name,
      backend: slot.plan.backend,
      nativePackage: slot.plan.nativePackage,
      handlers: slot.plan.transport === 'nats' ? remoteHandlerNames(toHandlerUrls(this.opts.handlers), slot.device.name) : toHandlerUrls(this.opts.handlers),
      cacheSize: this.opts.cacheSize ?? 0,
      model: this.opts.model,
      resident: this.opts.resident,
    };
  }

  static async create(opts: PushDistOptions): Promise<PushDist> {
    const devices = parseDeviceList(opts.devices ?? ['cpu:0']);
    if (opts.model === undefined || opts.model === null) throw new PushInputError('PushDist.create needs a model spec (options.model)');
    if (opts.cacheSize !== undefined && !(Number.isInteger(opts.cacheSize) && opts.cacheSize >= 1)) {
      throw new PushInputError(`bad cacheSize ${describeValue(opts.cacheSize)}: expected a whole number >= 1`);
    }
    if (opts.resident !== undefined && typeof opts.resident !== 'boolean') throw new PushInputError(`bad resident ${describeValue(opts.resident)}: expected true or false`);
    if (opts.timeoutMs !== undefined && !(opts.timeoutMs > 0)) {
      throw new PushInputError(`bad timeoutMs ${describeValue(opts.timeoutMs)}: expected a positive number of milliseconds`);
    }
    const plans = devices.map((d) => planWorker(d, { backend: opts.backend, isolation: opts.isolation }));
    checkNativePackages(plans);
    toHandlerUrls(opts.handlers);
    const { remote, links } = await claimRemoteDevices(plans, opts);
    const dist = new PushDist(plans, opts, remote, links);
    try {
      await Promise.all(dist.slots.map((slot) => dist.control(slot, 'init', dist.initArgs(slot))));
      await dist.sendPeers();
    } catch (err) {
      await dist.close();
      throw err;
    }
    return dist;
  }

  get devices(): string[] {
    return this.slots.map((s) => s.device.name);
  }

  /** Creates a particle and returns its pid (0, 1, 2, ...). Devices are assigned round-robin unless given. */
  createParticle(opts: CreateParticleOptions = {}): number {
    this.assertOpen();
    try {
      const { optimizer, scheduler, state, snapshot } = opts;
      checkSendable({ optimizer, scheduler, state, snapshot });
    } catch (err) {
      throw nameUnsendable(err, 'createParticle options');
    }
    let slot: DeviceSlot;
    if (opts.device !== undefined) {
      const found = this.slots.find((s) => s.device.name === opts.device);
      if (!found) throw new PushInputError(`device ${JSON.stringify(opts.device)} is not one of this run's devices: ${this.devices.join(', ')}`);
      slot = found;
    } else {
      slot = this.slots[this.nextDevice % this.slots.length];
      this.nextDevice++;
    }
    const pid = this.pidDevice.length;
    const seed = opts.seed ?? particleSeed(this.opts.seed ?? 0, pid);
    if (!Number.isInteger(seed) || seed < 0) throw new PushInputError(`bad seed ${describeValue(seed)}: expected a whole number >= 0`);
    this.pidDevice.push(slot.index);
    slot.particles.push(pid);
    const args: CreateArgs = {
      pid,
      seed,
      optimizer: opts.optimizer,
      scheduler: opts.scheduler,
      state: opts.state ?? {},
      snapshot: opts.snapshot,
    };
    this.createArgs.push(args);
    const ready = this.control(slot, 'create', args);
    ready.catch(() => undefined); // surfaced by the next launch or wait on this particle
    this.particleReady.push(ready);
    const roster = [...this.pidDevice];
    for (const s of this.slots) if (!s.dead) this.control(s, 'roster', roster).catch(() => undefined);
    return pid;
  }

  particleIds(): number[] {
    return this.pidDevice.map((_, pid) => pid);
  }

  /** The device a particle lives on. */
  deviceOf(pid: number): string {
    return this.slotOf(pid).device.name;
  }

  /**
   * Runs handler `msg` on particle `pid` in its device worker; resolves to the handler's result.
   * Arguments and results may hold undefined, null, booleans, numbers, strings, 64-bit BigInts,
   * Dates, dense arrays, plain objects, Maps, Sets, typed arrays and tensors (arriving as
   * WireTensors here), nested up to 64 levels; anything else rejects with a PushInputError
   * naming the argument and path, before anything is sent (src/runtime/wire-values.ts).
   */
  async launch<T = unknown>(pid: number, msg: string, ...args: unknown[]): Promise<T> {
    const slot = this.slotOf(pid);
    await this.particleReady[pid];
    const id = this.pending.nextId();
    const header: Header = { k: 'call', id, from: COORDINATOR, to: slot.index, pid, msg };
    return this.request<T>(slot, header, args, () => `message ${JSON.stringify(msg)} to particle ${pid} on ${slot.device.name}`);
  }

  /**
   * Runs handler `msg` once on a device, not on one of its particles: the handler gets the
   * device's context (`p.pid` is -1; `p.store`, `p.localParticles()`, `p.emit` as for a
   * particle) and acts on the device's particles together. Same argument rules, errors and
   * timeouts as launch.
   */
  async callDevice<T = unknown>(device: string, msg: string, ...args: unknown[]): Promise<T> {
    const slot = this.slots.find((s) => s.device.name === device);
    if (!slot) throw new PushInputError(`device ${JSON.stringify(device)} is not one of this PushDist's devices: ${this.devices.join(', ')}`);
    await Promise.all(slot.particles.map((pid) => this.particleReady[pid]));
    const id = this.pending.nextId();
    const header: Header = { k: 'call', id, from: COORDINATOR, to: slot.index, pid: DEVICE_CALL, msg };
    return this.request<T>(slot, header, args, () => `message ${JSON.stringify(msg)} to device ${slot.device.name}`);
  }

  /**
   * Launches `msg` with a timeout of its own. Unlike the PushDist's timeoutMs, this one
   * only fails the call: the worker is not killed (a handler may legitimately wait).
   */
  launchWithTimeout<T = unknown>(pid: number, msg: string, timeoutMs: number, ...args: unknown[]): Promise<T> {
    const slot = this.slotOf(pid);
    const id = this.pending.nextId();
    const header: Header = { k: 'call', id, from: COORDINATOR, to: slot.index, pid, msg };
    return this.particleReady[pid].then(() =>
      this.request<T>(slot, header, args, () => `message ${JSON.stringify(msg)} to particle ${pid} on ${slot.device.name}`, timeoutMs),
    );
  }

  /** Waits for all futures; rejects with the first failure. */
  wait<T>(futures: readonly Promise<T>[]): Promise<T[]> {
    return Promise.all(futures);
  }

  /** A copy of particle `pid`'s flat parameters (the order src/nn documents). */
  async parameters(pid: number): Promise<Float32Array> {
    return (await this.snapshot(pid)).params;
  }

  /** A copy of a particle's parameters, gradients, optimizer slots and counters. */
  async snapshot(pid: number): Promise<ParticleSnapshot> {
    const slot = this.slotOf(pid);
    await this.particleReady[pid];
    return this.control<ParticleSnapshot>(slot, 'params', { pid });
  }

  /** Overwrites a particle's parameters (and optionally its optimizer state). */
  async setSnapshot(pid: number, snap: Partial<ParticleSnapshot>): Promise<void> {
    const slot = this.slotOf(pid);
    await this.particleReady[pid];
    await this.control(slot, 'setParams', { pid, ...snap });
  }

  /** Per device: resident particles, swaps, messages and bytes moved. */
  async stats(): Promise<DeviceReport[]> {
    return Promise.all(
      this.slots.map(async (slot) => {
        const base = {
          device: slot.device.name,
          transport: slot.plan.transport,
          backend: slot.plan.backend,
          messages: slot.messages,
          bytesMoved: slot.bytesIn + slot.bytesOut,
        };
        if (slot.dead) return { ...base, particles: slot.particles.length, resident: 0, swaps: 0, handled: 0, numTensors: 0, bytesPerParticle: 0, dead: slot.dead };
        const s = await this.control<DeviceStats>(slot, 'stats', {});
        return { ...s, ...base };
      }),
    );
  }

  /**
   * Calls `listener` with every event handlers send with p.emit (events from a dead device are
   * dropped). A listener that throws is reported once as a process warning. Returns an unsubscribe.
   */
  onEvent(listener: (e: WorkerEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Whether a device's worker has died (and why). */
  deadDevices(): { device: string; reason: string; particles: number[] }[] {
    return this.slots.filter((s) => s.dead).map((s) => ({ device: s.device.name, reason: s.dead!, particles: [...s.particles] }));
  }

  /**
   * Starts a new worker for a dead device and recreates its particles, from the
   * given snapshots (for example the last checkpoint) or else from their seeds.
   * Data sets and handler state that lived in the old worker are gone.
   */
  async restartDevice(device: string, snapshots: ReadonlyMap<number, ParticleSnapshot> = new Map()): Promise<void> {
    this.assertOpen();
    const slot = this.slots.find((s) => s.device.name === device);
    if (!slot) throw new PushInputError(`device ${JSON.stringify(device)} is not one of this run's devices: ${this.devices.join(', ')}`);
    if (!slot.dead) throw new PushInputError(`device ${device} is alive: only a dead device can be restarted`);
    await slot.link.close(0).catch(() => undefined);
    // A remote device's particles go back to its host if it answers, else to a free device of another host.
    this.startWorker(slot, this.remote && slot.plan.transport === 'nats' ? await this.remote.reclaim(slot.device) : undefined);
    await this.control(slot, 'init', this.initArgs(slot));
    await Promise.all(
      slot.particles.map((pid) => {
        const args = { ...this.createArgs[pid], snapshot: snapshots.get(pid) ?? this.createArgs[pid].snapshot };
        const ready = this.control(slot, 'create', args);
        this.particleReady[pid] = ready;
        return ready;
      }),
    );
    await this.control(slot, 'roster', [...this.pidDevice]);
    await this.sendPeers();
  }

  /** Tells every remote device where the others are, so their particles talk directly (src/runtime/nats/peers.ts). */
  private async sendPeers(): Promise<void> {
    if (!this.remote) return;
    const remote = this.slots.filter((s) => s.link.kind === 'nats' && !s.dead);
    if (remote.length < 2) return;
    const { peerTable } = require('./nats/remote') as typeof Remote;
    const table = peerTable(remote);
    await Promise.all(remote.map((s) => this.control(s, 'peers', table)));
  }

  /** The OS process id of a device's worker, for process-isolated devices. */
  workerPid(device: string): number | undefined {
    return this.slots.find((s) => s.device.name === device)?.link.pid;
  }

  /** Ends every worker. Safe to call twice; pending futures are rejected. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- internals ----

  private async doClose(): Promise<void> {
    // A worker that answers "close" ends by itself (it gets CLOSE_GRACE_MS to do so); one
    // that does not answer within CLOSE_GRACE_MS (busy, hung, stopped) is killed at once.
    const answered = await Promise.all(
      this.slots.map((slot) =>
        slot.dead
          ? false
          : this.control(slot, 'close', {}, CLOSE_GRACE_MS).then(
              () => true,
              () => false,
            ),
      ),
    );
    this.closed = true;
    this.pending.rejectDevice(undefined, () => new PushWorkerError('the PushDist was closed before this message was answered', 'all'));
    await Promise.all(this.slots.map((s, i) => s.link.close(answered[i] ? CLOSE_GRACE_MS : 0)));
    await this.remote?.close();
  }

  private assertOpen(): void {
    if (this.closed || this.closing) throw new PushInputError('this PushDist is closed');
  }

  private slotOf(pid: number): DeviceSlot {
    if (!Number.isInteger(pid) || pid < 0 || pid >= this.pidDevice.length) {
      const known = this.pidDevice.length ? `0..${this.pidDevice.length - 1}` : 'none yet';
      throw new PushInputError(`unknown particle id ${describeValue(pid)}: known pids are ${known}`);
    }
    return this.slots[this.pidDevice[pid]];
  }

  private control<T = unknown>(slot: DeviceSlot, op: ControlOp, args: unknown, timeoutMs?: number): Promise<T> {
    const id = this.pending.nextId();
    const header: Header = { k: 'ctl', id, from: COORDINATOR, to: slot.index, op };
    return this.request<T>(slot, header, args, () => `control "${op}" on ${slot.device.name}`, timeoutMs);
  }

  private request<T>(slot: DeviceSlot, header: Header, body: unknown, describe: () => string, timeoutMs?: number): Promise<T> {
    if (this.closed) return Promise.reject(new PushInputError('this PushDist is closed'));
    if (slot.dead) return Promise.reject(this.deadError(slot));
    // An explicit timeout (launchWithTimeout, close) only fails the message. The PushDist's
    // timeoutMs covers every call and control (init with a floor) and kills a silent worker.
    let timeout = timeoutMs;
    let onTimeout: (() => void) | undefined;
    if (timeout === undefined && this.opts.timeoutMs !== undefined) {
      const ms = header.k === 'ctl' && header.op === 'init' ? Math.max(this.opts.timeoutMs, INIT_TIMEOUT_FLOOR_MS) : this.opts.timeoutMs;
      const link = slot.link;
      timeout = ms;
      onTimeout = () => {
        if (slot.link === link) this.killUnresponsive(slot, `killed after no answer within ${ms} ms`);
      };
    }
    // Encode first: a body that cannot be sent must leave no waiter (and no timer) behind.
    let frame: Uint8Array;
    try {
      frame = encodeFrame(header, body);
    } catch (err) {
      return Promise.reject(nameUnsendable(err, ...sendLabel(header)));
    }
    const p = this.pending.wait<T>(header.id, slot.index, timeout, describe, onTimeout);
    this.sendTo(slot, frame);
    return p;
  }

  /** A device that stopped answering is dead: its worker is killed and its pending messages fail. */
  private killUnresponsive(slot: DeviceSlot, reason: string): void {
    if (slot.dead || this.closed) return;
    slot.link.kill();
    this.onWorkerDeath(slot, reason);
  }

  private sendTo(slot: DeviceSlot, frame: Uint8Array, onWritten?: () => void): void {
    slot.messages++;
    slot.bytesOut += frameBytes(frame);
    slot.link.send(frame, onWritten);
  }

  /**
   * Forwards a frame unchanged; a frame read from one process and written to another goes back to the pool.
   * A large frame between processes is still in shared memory (a stub): only a process link can pass it on.
   */
  private relay(from: DeviceSlot, to: DeviceSlot, frame: Uint8Array): void {
    if (to.link.kind !== 'process') {
      try {
        frame = materialize(frame);
      } catch (err) {
        this.killUnresponsive(from, `it sent a frame that could not be read (${err instanceof Error ? err.message : String(err)})`);
        return;
      }
    }
    const recycle = from.link.kind === 'process' && to.link.kind === 'process';
    this.sendTo(to, frame, recycle ? () => this.relayPool.give(frame) : undefined);
  }

  private onWorkerFrame(slot: DeviceSlot, frame: Uint8Array): void {
    slot.bytesIn += frameBytes(frame);
    const h = decodeHeader<Header>(frame);
    if (h.to === COORDINATOR) {
      if (h.k === 'reply') {
        const body = decodeBody(frame);
        this.pending.settle(h.id, h.ok, h.ok ? body : this.toError(slot, body as SerializedError));
      } else if (h.k === 'log') {
        process.stderr.write(`[${slot.device.name}] ${String(decodeBody(frame))}\n`);
      } else if (h.k === 'event' && !slot.dead && !this.closed) {
        this.dispatchEvent({ device: slot.device.name, name: h.name, value: decodeBody(frame) });
      }
      return;
    }
    // A frame for another device: route it without touching its body.
    let to = h.to;
    if (to === BY_PID && (h.k === 'call' || h.k === 'get')) to = this.pidDevice[h.pid] ?? -99;
    const target = this.slots[to];
    if (h.k === 'reply') {
      this.relayed.delete(h.id);
      if (target && !target.dead) this.relay(slot, target, frame);
      else release(frame);
      return;
    }
    if (!target || target.dead) {
      release(frame);
      const err = target
        ? this.deadError(target)
        : new PushInputError(`unknown particle id ${describeValue((h as { pid?: number }).pid)}: known pids are 0..${this.pidDevice.length - 1}`);
      this.sendTo(slot, encodeFrame({ k: 'reply', id: h.id, from: COORDINATOR, to: slot.index, ok: false }, serializeSimple(err)));
      return;
    }
    this.relayed.set(h.id, { from: slot.index, to: target.index });
    this.relay(slot, target, frame);
  }

  private dispatchEvent(e: WorkerEvent): void {
    for (const listener of this.eventListeners) {
      try {
        listener(e);
      } catch (err) {
        if (this.listenerFailed) continue;
        this.listenerFailed = true;
        process.emitWarning(`a PushDist event listener threw (reported once): ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private onWorkerDeath(slot: DeviceSlot, reason: string): void {
    slot.dead = this.closing ? 'the PushDist was closed' : reason;
    const err = () => this.deadError(slot);
    this.pending.rejectDevice(slot.index, err);
    // Workers waiting on the dead device get an error reply instead of silence.
    for (const [id, r] of this.relayed) {
      if (r.to !== slot.index) continue;
      this.relayed.delete(id);
      const origin = this.slots[r.from];
      if (origin && !origin.dead) {
        this.sendTo(origin, encodeFrame({ k: 'reply', id, from: COORDINATOR, to: origin.index, ok: false }, serializeSimple(err())));
      }
    }
  }

  private deadError(slot: DeviceSlot): PushWorkerError {
    const pids = slot.particles.length ? `particles ${slot.particles.join(', ')}` : 'no particles';
    return new PushWorkerError(`device ${slot.device.name} worker died (${slot.dead}); it held ${pids}`, slot.device.name);
  }

  private toError(slot: DeviceSlot, e: SerializedError): Error {
    if (e.pid !== undefined && e.msg !== undefined) {
      const where = e.pid === DEVICE_CALL ? `device ${e.device ?? slot.device.name}` : `particle ${e.pid} (${e.device ?? slot.device.name})`;
      return new PushHandlerError(
        `handler ${JSON.stringify(e.msg)} failed on ${where}: ${e.message}`,
        e.pid,
        e.msg,
        e.device ?? slot.device.name,
        e.stack,
      );
    }
    const err = e.name === 'PushInputError' ? new PushInputError(e.message) : new PushWorkerError(`${slot.device.name}: ${e.message}`, slot.device.name, e.stack);
    return err;
  }
}

/** How long a worker gets to answer "close", and then to exit, before it is killed. */
const CLOSE_GRACE_MS = 2000;
/** The least time `init` gets under a timeoutMs: loading a backend (tfjs-node, CUDA) can take seconds. */
const INIT_TIMEOUT_FLOOR_MS = 60000;

/** How an unsendable body is named in its error: the API call it came from. */
function sendLabel(h: Header): [what: string, argList: boolean] {
  if (h.k === 'call') return [`launch(${JSON.stringify(h.msg)})`, true];
  if (h.k === 'ctl') return [CONTROL_LABELS[h.op] ?? `control "${h.op}"`, false];
  return ['message', false];
}

const CONTROL_LABELS: Partial<Record<ControlOp, string>> = { init: 'PushDist.create options', create: 'createParticle options', setParams: 'setSnapshot' };

/**
 * Connects to NATS and opens a session on every remote device before any local
 * worker starts, so a missing, busy or incompatible worker host fails create()
 * with one line. Loaded only when a device list names a host.
 */
async function claimRemoteDevices(plans: readonly WorkerPlan[], opts: PushDistOptions): Promise<{ remote?: Remote.RemoteDevices; links: Map<number, DeviceLink> }> {
  const links = new Map<number, DeviceLink>();
  if (!plans.some((p) => p.transport === 'nats')) return { links };
  const { RemoteDevices } = require('./nats/remote') as typeof Remote;
  const remote = await RemoteDevices.connect(opts.nats);
  const claims = plans.map(async (p, i) => {
    if (p.transport === 'nats') links.set(i, await remote.claim(p.device));
  });
  const failed = (await Promise.allSettled(claims)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const link of links.values()) link.kill();
    await remote.close();
    throw failed.reason;
  }
  return { remote, links };
}

function serializeSimple(err: Error): SerializedError {
  return { name: err.name, message: err.message };
}

function toHandlerUrls(h: PushDistOptions['handlers']): string[] {
  if (h === undefined) return [];
  const list = Array.isArray(h) ? h : [h];
  return list.map((x: string | URL) => {
    if (x instanceof URL) return x.href;
    if (/^(file|data):/.test(x)) return x;
    return pathToFileURL(path.resolve(x)).href;
  });
}
