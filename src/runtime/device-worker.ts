// The body of a device worker (thread or process): it owns one device's
// particles, runs handlers on them, answers control messages, and talks to
// other devices through the coordinator.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { endCompileCache } from '../util/compile-cache';
import { PushInputError } from '../util/errors';
import { BackendName, tf, useBackend } from '../util/tf';
import type { WorkerEndpoint } from './endpoint';
import { Particle, ParticleHost } from './particle';
import { ParticleStore } from './particle-store';
import { PendingReplies } from './pending';
import { BY_PID, COORDINATOR, DEVICE_CALL, Header, SerializedError, serializeError } from './protocol';
import { tfTensorHooks } from './tensor-hooks';
import { FrameParts, checkSendable, decodeBody, decodeHeader, encodeFrame, encodeFrameParts, joinFrame, nameUnsendable } from './wire';
import type { CreateArgs, DeviceStats, InitArgs, ParamsAndGrads, ParticleSnapshot } from './worker-api';

type Handler = (p: Particle, ...args: unknown[]) => unknown;

export class DeviceWorker implements ParticleHost {
  device = '?';
  private deviceIndex = -1;
  /** Only the handler modules' own exported functions: never Object.prototype's methods. */
  private readonly handlers = new Map<string, Handler>();
  private storeImpl?: ParticleStore;
  private readonly particles = new Map<number, Particle>();
  private rosterList: number[] = [];
  private pending!: PendingReplies;
  private handled = 0;
  /** What a handler called on the device itself (PushDist.callDevice) gets as its particle. */
  private deviceContext?: Particle;
  private finish!: () => void;
  private readonly finished = new Promise<void>((r) => (this.finish = r));

  constructor(private readonly endpoint: WorkerEndpoint) {}

  /** Serves frames until the coordinator sends `close`. */
  run(): Promise<void> {
    this.endpoint.onFrame((f) => this.onFrame(f));
    return this.finished;
  }

  get store(): ParticleStore {
    if (!this.storeImpl) throw new Error('device worker is not initialised');
    return this.storeImpl;
  }

  roster(): number[] {
    return this.rosterList;
  }

  localParticles(): number[] {
    return [...this.particles.keys()];
  }

  /** Exposes a particle to built-in group handlers. */
  particle(pid: number): Particle {
    const p = this.particles.get(pid);
    if (!p) throw new PushInputError(`particle ${pid} is not on device ${this.device}`);
    return p;
  }

  sendMessage(fromPid: number, toPid: number, msg: string, args: unknown[]): Promise<unknown> {
    const unsendable = (err: unknown) => Promise.reject(nameUnsendable(err, `p.send(${toPid}, ${JSON.stringify(msg)})`, true));
    if (this.particles.has(toPid)) {
      // Same device: no serialisation, but the same rules as across devices; run it as its own task.
      try {
        checkSendable(args, tfTensorHooks);
      } catch (err) {
        return unsendable(err);
      }
      return Promise.resolve()
        .then(() => this.runHandler(toPid, msg, args))
        .then((result) => {
          try {
            checkSendable(result, tfTensorHooks);
          } catch (err) {
            throw nameUnsendable(err, resultLabel(msg));
          }
          return result;
        });
    }
    this.checkPid(toPid);
    const id = this.pending.nextId();
    const header: Header = { k: 'call', id, from: this.deviceIndex, to: BY_PID, pid: toPid, msg };
    let frame: FrameParts;
    try {
      frame = encodeFrameParts(header, args, tfTensorHooks);
    } catch (err) {
      return unsendable(err);
    }
    const p = this.pending.wait(id, COORDINATOR, undefined, () => `message ${JSON.stringify(msg)} from particle ${fromPid} to particle ${toPid}`);
    this.sendParts(frame);
    return p;
  }

  async fetchParticle(fromPid: number, pid: number): Promise<ParamsAndGrads> {
    if (this.particles.has(pid)) return this.store.exchange(pid, true);
    this.checkPid(pid);
    const id = this.pending.nextId();
    const header: Header = { k: 'get', id, from: this.deviceIndex, to: BY_PID, pid };
    const p = this.pending.wait<ParamsAndGrads>(id, COORDINATOR, undefined, () => `get of particle ${pid} by particle ${fromPid}`);
    this.endpoint.send(encodeFrame(header));
    return p;
  }

  emit(name: string, value: unknown): void {
    let frame: Uint8Array;
    try {
      frame = encodeFrame({ k: 'event', id: '', from: this.deviceIndex, to: COORDINATOR, name }, value, tfTensorHooks);
    } catch (err) {
      throw nameUnsendable(err, `p.emit(${JSON.stringify(name)})`);
    }
    this.endpoint.send(frame);
  }

  /** Large frames go straight from their arrays to a spill file where the endpoint can; others are joined first. */
  private sendParts(parts: FrameParts): void {
    if (this.endpoint.sendParts) this.endpoint.sendParts(parts);
    else this.endpoint.send(joinFrame(parts));
  }

  private checkPid(pid: number): void {
    if (!Number.isInteger(pid) || pid < 0 || pid >= this.rosterList.length) {
      throw new PushInputError(`unknown particle id ${JSON.stringify(pid)}: known pids are 0..${this.rosterList.length - 1}`);
    }
  }

  private onFrame(frame: Uint8Array): void {
    const h = decodeHeader<Header>(frame);
    switch (h.k) {
      case 'reply': {
        const body = decodeBody(frame, tfTensorHooks);
        this.pending.settle(h.id, h.ok, h.ok ? body : toError(body as SerializedError));
        return;
      }
      case 'call':
        this.answer(h, () => this.runHandler(h.pid, h.msg, decodeBody<unknown[]>(frame, tfTensorHooks)), { pid: h.pid, msg: h.msg });
        return;
      case 'get':
        // Views of the host rows: the reply copies them once, into its frame or its spill file.
        this.answer(h, () => this.store.exchange(h.pid, false));
        return;
      case 'ctl':
        this.answer(h, () => this.control(h.op, decodeBody(frame)));
        return;
      default:
        return;
    }
  }

  private answer(h: Header, work: () => unknown, context?: { pid: number; msg: string }): void {
    const reply = (ok: boolean, body: unknown) => {
      let frame: FrameParts;
      try {
        frame = encodeFrameParts({ k: 'reply', id: h.id, from: this.deviceIndex, to: h.from, ok }, body, tfTensorHooks);
      } catch (err) {
        const e = nameUnsendable(err, context ? resultLabel(context.msg) : 'the reply');
        frame = encodeFrameParts({ k: 'reply', id: h.id, from: this.deviceIndex, to: h.from, ok: false }, serializeError(e, { ...context, device: this.device }));
      }
      // Sent before anything else runs: the parts may be views of the particle's rows.
      this.sendParts(frame);
      if (h.k === 'reply') return;
      // Results that are tensors were copied into the frame: free them.
      disposeTensors(body);
    };
    Promise.resolve()
      .then(work)
      .then(
        (value) => reply(true, value),
        (err) => reply(false, serializeError(err, { ...context, device: this.device })),
      );
  }

  private async runHandler(pid: number, msg: string, args: unknown[]): Promise<unknown> {
    // A call to the device itself: its handler gets the device's context (pid -1).
    const particle = pid === DEVICE_CALL ? (this.deviceContext ??= new Particle(DEVICE_CALL, {}, this)) : this.particles.get(pid);
    if (!particle) {
      throw new PushInputError(`particle ${pid} does not live on device ${this.device}`);
    }
    const handler = this.handlers.get(msg);
    if (!handler) {
      const known = [...this.handlers.keys()].sort();
      throw new PushInputError(`unknown message ${JSON.stringify(msg)}: the handler modules export ${known.length ? known.join(', ') : 'nothing'}`);
    }
    this.handled++;
    return handler(particle, ...(Array.isArray(args) ? args : []));
  }

  private async control(op: string, body: unknown): Promise<unknown> {
    switch (op) {
      case 'init':
        return this.init(body as InitArgs);
      case 'create': {
        const args = body as CreateArgs;
        this.store.create(args);
        this.particles.set(args.pid, new Particle(args.pid, args.state ?? {}, this));
        return null;
      }
      case 'roster':
        this.rosterList = body as number[];
        return null;
      case 'params':
        return this.store.snapshot((body as { pid: number }).pid);
      case 'setParams': {
        const { pid, ...snap } = body as { pid: number } & Partial<ParticleSnapshot>;
        this.store.restore(pid, snap);
        return null;
      }
      case 'stats':
        return { ...this.store.stats(), handled: this.handled, numTensors: tf.memory().numTensors } satisfies Omit<DeviceStats, 'dead'>;
      case 'close':
        setImmediate(() => {
          this.storeImpl?.dispose();
          void this.endpoint.end().then(() => this.finish());
        });
        return null;
      default:
        throw new PushInputError(`unknown control message ${JSON.stringify(op)}`);
    }
  }

  private addHandlers(mod: Record<string, unknown>): void {
    for (const [name, fn] of Object.entries(mod)) {
      if (typeof fn === 'function') this.handlers.set(name, fn as Handler);
    }
  }

  private async init(args: InitArgs): Promise<{ backend: string }> {
    this.device = args.device;
    this.deviceIndex = args.deviceIndex;
    this.pending = new PendingReplies(`d${args.deviceIndex}`);
    if (args.nativePackage) {
      try {
        require(args.nativePackage);
      } catch (err) {
        throw new PushInputError(`device ${args.device} could not load ${args.nativePackage}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    await useBackend(args.backend as BackendName);
    // Built-in handlers first, so user modules may override them. They are ours and CommonJS:
    // require loads them through the code cache, and does not start the ESM loader (10-40 ms).
    this.addHandlers(require('./training-handlers') as Record<string, unknown>);
    // Start-up's modules are loaded: user handler modules load through Node's own compile step.
    endCompileCache();
    for (const url of args.handlers) {
      const mod = await importHandlers(url);
      this.addHandlers(mod);
      // CommonJS modules imported as ESM also expose their exports as `default` (own properties only).
      const def = mod.default as Record<string, unknown> | undefined;
      if (def && typeof def === 'object') {
        for (const [name, fn] of Object.entries(def)) if (typeof fn === 'function' && !this.handlers.has(name)) this.handlers.set(name, fn as Handler);
      }
    }
    this.storeImpl = new ParticleStore(args.model, args.cacheSize, this, { resident: args.resident });
    return { backend: tf.getBackend() };
  }
}

/** Imports a handler module; ESM syntax in a file Node reads as CommonJS gets an error that says what to change. */
async function importHandlers(url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof SyntaxError && /Unexpected token 'export'|Cannot use import statement outside a module/.test(message)) {
      const file = url.startsWith('file:') ? path.basename(fileURLToPath(url)) : url;
      const mjs = `${file.replace(/\.c?js$/, '')}.mjs`;
      throw new PushInputError(
        `handlers module ${file} uses ESM \`export\`/\`import\` but its package is CommonJS: rename it to ${mjs} or add "type": "module" to its package.json, or use module.exports and require()`,
      );
    }
    throw err;
  }
}

const resultLabel = (msg: string) => `the result of ${JSON.stringify(msg)}`;

function toError(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return Object.assign(err, { pid: e.pid, msg: e.msg, device: e.device });
}

function disposeTensors(v: unknown): void {
  if (v instanceof tf.Tensor) v.dispose();
  else if (Array.isArray(v)) v.forEach(disposeTensors);
  else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach(disposeTensors);
}
