// A worker host (`push-ens worker`): serves its devices to coordinators over
// NATS. For each session a coordinator opens on one of its devices it starts a
// device worker exactly as a coordinator does locally (a thread, or a child
// process for cuda:N and --isolation process) and relays frames between the
// session's channel and that worker. It answers discovery with its advert,
// refuses other protocol versions, loads only handler modules installed here,
// ends a session whose coordinator stopped beating, and drains on SIGTERM.
import type { Msg, Subscription } from 'nats';
import { PushInputError } from '../../util/errors';
import { TFJS_NODE_INSTALL_HINT, resolveTfjsNode } from '../../util/backends';
import { packageVersion } from '../../cli/version';
import { parseDeviceList, Device } from '../devices';
import { DeviceLink, ProcessLink, ThreadLink } from '../links';
import { COORDINATOR, Header, serializeError } from '../protocol';
import { decodeBody, decodeHeader, encodeFrame } from '../wire';
import { checkNativePackages, planWorker } from '../worker-plan';
import { FrameChannel } from './channel';
import { PeerRouter, checkPeerTable } from './peers';
import { allowedHandlers, resolveHandlerNames } from './handler-names';
import { NatsHub } from './hub';
import { NatsOptions, resolveNatsOptions } from './options';
import { discoverWorkers } from './remote';
import {
  DISCOVER_SUBJECT,
  NATS_PROTOCOL,
  OpenReply,
  OpenRequest,
  WorkerAdvert,
  checkOpenRequest,
  encodeControl,
  openSubject,
  parseControl,
  sessionSubjects,
} from './protocol';
import { HOST_NAME_PATTERN } from '../devices';

export interface WorkerHostOptions {
  /** This host's name in device strings ("hostA" in "hostA/cpu:0"). */
  name: string;
  /** Local devices served: "cpu:0,cpu:1" or a list. */
  devices: string | readonly string[];
  nats: NatsOptions;
  /** Paths of handler modules coordinators may ask for, by file name. */
  handlers?: readonly string[];
  /** How cpu:N device workers run: threads (default) or child processes. */
  isolation?: 'thread' | 'process';
  /** Sessions one device serves at once (each with its own device worker). Default 1. */
  slots?: number;
  /** One line per event (a coordinator arrives or leaves, a refusal, a reconnect). */
  log?: (line: string) => void;
}

const FRAME_KINDS = new Set(['call', 'get', 'ctl', 'reply']);

export class WorkerHost {
  private readonly sessions = new Map<string, HostSession>();
  private readonly subs: Subscription[] = [];
  private draining = false;
  private readonly coordinators = new Map<string, { label: string; sessions: number }>();
  private idle?: () => void;

  private constructor(
    private readonly hub: NatsHub,
    readonly name: string,
    readonly devices: Device[],
    readonly allowed: ReadonlyMap<string, string>,
    readonly opts: WorkerHostOptions,
  ) {}

  static async start(opts: WorkerHostOptions): Promise<WorkerHost> {
    if (typeof opts.name !== 'string' || !HOST_NAME_PATTERN.test(opts.name)) {
      throw new PushInputError(`bad worker name ${JSON.stringify(opts.name)}: expected letters, digits, '-' or '_' (no dots), at most 63 characters`);
    }
    const devices = parseDeviceList(opts.devices);
    const remote = devices.find((d) => d.host !== undefined);
    if (remote) throw new PushInputError(`--devices ${remote.name}: a worker serves its own devices; list them without a host (cpu:0,cuda:1)`);
    const slots = opts.slots ?? 1;
    if (!Number.isInteger(slots) || slots < 1 || slots > 64) throw new PushInputError(`bad slots ${JSON.stringify(slots)}: expected a whole number from 1 to 64`);
    const allowed = allowedHandlers(opts.handlers ?? []);
    const settings = resolveNatsOptions(opts.nats, `push-ens worker ${opts.name}`);
    const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
    const hub = await NatsHub.connect(settings, (line) => log(`[${opts.name}] ${line}`));
    try {
      const twin = (await discoverWorkers(hub.nc, 300)).find((a) => a.host === opts.name);
      if (twin) throw new PushInputError(`a worker host named ${JSON.stringify(opts.name)} already serves on this NATS system: give each host its own --name`);
    } catch (err) {
      await hub.close();
      throw err;
    }
    const host = new WorkerHost(hub, opts.name, devices, allowed, { ...opts, slots, log });
    host.subs.push(hub.nc.subscribe(DISCOVER_SUBJECT, { callback: (err, msg) => !err && host.respond(msg, host.advert()) }));
    host.subs.push(hub.nc.subscribe(openSubject(opts.name), { callback: (err, msg) => !err && host.open(msg) }));
    await hub.nc.flush();
    return host;
  }

  log(line: string): void {
    this.opts.log!(`[${this.name}] ${line}`);
  }

  advert(): WorkerAdvert {
    const nativeCpu = resolveTfjsNode(false) !== null;
    const gpu = resolveTfjsNode(true) === '@tensorflow/tfjs-node-gpu';
    return {
      host: this.name,
      protocol: NATS_PROTOCOL,
      version: packageVersion(),
      devices: this.devices.map((d) => ({
        device: d.name,
        kind: d.kind,
        backends: d.kind === 'cuda' ? (gpu ? ['tensorflow'] : []) : ['wasm', 'cpu', ...(nativeCpu ? ['tensorflow'] : [])],
        slots: this.opts.slots!,
        free: this.draining ? 0 : this.opts.slots! - this.inUse(d.name),
      })),
      handlers: [...this.allowed.keys()],
      draining: this.draining,
      coordinators: this.coordinators.size,
    };
  }

  private inUse(device: string): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.device.name === device) n++;
    return n;
  }

  private respond(msg: Msg, body: unknown): void {
    if (!msg.reply) return;
    try {
      msg.respond(encodeControl(body));
    } catch {
      /* the connection closed */
    }
  }

  private open(msg: Msg): void {
    const refuse = (error: string) => {
      this.log(`refused a session: ${error}`);
      this.respond(msg, { ok: false, protocol: NATS_PROTOCOL, error } satisfies OpenReply);
    };
    const req = checkOpenRequest(parseControl(msg.data));
    if (typeof req === 'string') return refuse(req);
    if (req.protocol !== NATS_PROTOCOL) return refuse(`coordinator ${req.label} speaks push-ens NATS protocol ${req.protocol}, this worker host ${NATS_PROTOCOL}: run the same push-ens version on both`);
    if (this.draining) return refuse(`worker host ${this.name} is shutting down`);
    const device = this.devices.find((d) => d.name === req.device);
    if (!device) return refuse(`worker host ${this.name} has no device ${req.device} (it serves ${this.devices.map((d) => d.name).join(', ')})`);
    const used = this.inUse(device.name);
    if (used >= this.opts.slots!) return refuse(`device ${this.name}/${device.name} is busy (${used} of ${this.opts.slots} sessions in use)`);
    if (this.sessions.has(req.session)) return refuse('the session id is already in use');
    const subjects = sessionSubjects(this.name, device.name, req.session);
    const channel = new FrameChannel({
      nc: this.hub.nc,
      sendSubject: subjects.toCoordinator,
      recvSubject: subjects.toWorker,
      heartbeatMs: req.heartbeatMs,
      deadlineMs: req.deadlineMs,
      peer: `coordinator ${req.label}`,
    });
    const session = new HostSession(this, req, device, channel, this.hub);
    this.sessions.set(req.session, session);
    this.hub.add(channel);
    const c = this.coordinators.get(req.coordinator);
    if (c) c.sessions++;
    else {
      this.coordinators.set(req.coordinator, { label: req.label, sessions: 1 });
      this.log(`coordinator ${req.label} (${req.coordinator}, push-ens ${req.version}) connected`);
    }
    session.start();
    this.respond(msg, { ok: true, protocol: NATS_PROTOCOL, version: packageVersion(), host: this.name, device: device.name } satisfies OpenReply);
  }

  /** A session ended: its slot is free again. */
  ended(session: HostSession, reason: string): void {
    if (!this.sessions.delete(session.req.session)) return;
    this.hub.remove(session.channel);
    const c = this.coordinators.get(session.req.coordinator);
    if (c && --c.sessions === 0) {
      this.coordinators.delete(session.req.coordinator);
      this.log(`coordinator ${c.label} left (${reason})`);
    }
    if (this.sessions.size === 0) this.idle?.();
  }

  /** Settles when the NATS connection is closed for good (with its error, if any); reconnects do not count. */
  get closed(): Promise<void | Error> {
    return this.hub.nc.closed();
  }

  /** Whether drain() was called. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Sessions open now (for tests and the drain). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Takes no new sessions, waits up to `graceMs` for the open ones to end, ends
   * the rest (their coordinators see the device die) and disconnects.
   */
  async drain(graceMs: number): Promise<void> {
    if (!this.draining) this.log(`draining: ${this.sessions.size} session(s) open, no new ones`);
    this.draining = true;
    if (this.sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.idle = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    for (const s of [...this.sessions.values()]) await s.end('the worker host is shutting down');
    for (const sub of this.subs) sub.unsubscribe();
    await this.hub.close();
  }
}

class HostSession {
  private link?: DeviceLink;
  private done = false;
  private readonly peers: PeerRouter;

  constructor(
    private readonly host: WorkerHost,
    readonly req: OpenRequest,
    readonly device: Device,
    readonly channel: FrameChannel,
    hub: NatsHub,
  ) {
    this.peers = new PeerRouter({
      nc: hub.nc,
      hub,
      session: req.session,
      heartbeatMs: req.heartbeatMs,
      deadlineMs: req.deadlineMs,
      toDevice: (f) => this.link?.send(f),
    });
  }

  start(): void {
    this.peers.start();
    this.channel.start({
      onFrame: (f) => this.fromCoordinator(f),
      onGone: (reason) => void this.end(`coordinator: ${reason}`, false),
    });
  }

  private fromCoordinator(frame: Uint8Array): void {
    if (this.done) return;
    let h: Header;
    try {
      h = decodeHeader<Header>(frame);
    } catch {
      return void this.end('a frame with a malformed header (protocol violation)');
    }
    if (!h || typeof h !== 'object' || !FRAME_KINDS.has(h.k) || typeof h.id !== 'string' || h.id.length > 64) {
      return void this.end('a frame of an unknown kind (protocol violation)');
    }
    if (h.k === 'ctl' && h.op === 'peers') {
      // For this host, not the device worker: where the run's other remote devices are.
      const table = checkPeerTable(safeBody(frame));
      if (!table) return this.refuse(h, new PushInputError('the peer table is malformed'));
      this.peers.setTable(table);
      this.channel.send(encodeFrame({ k: 'reply', id: h.id, from: h.to, to: COORDINATOR, ok: true }, null));
      return;
    }
    if (h.k === 'ctl' && h.op === 'roster') this.peers.setRoster(safeBody(frame));
    if (h.k === 'ctl' && h.op === 'init') {
      if (this.link) return this.refuse(h, new PushInputError('the device worker is already initialised'));
      try {
        this.startWorker(h, decodeBody<Record<string, unknown>>(frame));
      } catch (err) {
        this.refuse(h, err);
      }
      return;
    }
    if (!this.link) return this.refuse(h, new PushInputError('the device worker is not initialised: send "init" first'));
    this.link.send(frame);
    if (h.k === 'ctl' && h.op === 'close') void this.closeWorker();
  }

  /** Plans and starts the device worker for the coordinator's init, with handler modules resolved here. */
  private startWorker(h: Header, args: Record<string, unknown>): void {
    if (!args || typeof args !== 'object') throw new PushInputError('the init message has no arguments');
    const handlers = resolveHandlerNames(args.handlers, this.host.allowed, this.host.name);
    const backend = typeof args.backend === 'string' ? args.backend : 'wasm';
    const plan = planWorker(this.device, { backend: this.device.kind === 'cuda' ? undefined : backend, isolation: this.host.opts.isolation });
    try {
      checkNativePackages([plan]);
    } catch (err) {
      throw new PushInputError(`worker host ${this.host.name}: ${(err as Error).message.replace(TFJS_NODE_INSTALL_HINT, 'install it there')}`);
    }
    const link = plan.transport === 'thread' ? new ThreadLink(plan.env) : new ProcessLink(plan.env);
    this.link = link;
    this.peers.index = typeof args.deviceIndex === 'number' ? args.deviceIndex : -1;
    link.hold(true);
    link.onFrame((f) => {
      // Requests to particles of other remote devices, and replies to theirs, go directly.
      if (this.peers.active && this.peers.route(decodeHeader<Header>(f), f)) return;
      this.channel.send(f);
    });
    link.onDeath((reason) => void this.end(`its device worker died: ${reason}`));
    link.send(encodeFrame(h, { ...args, handlers, backend: plan.backend, nativePackage: plan.nativePackage }));
  }

  private refuse(h: Header, err: unknown): void {
    const from = (h as { to?: number }).to ?? 0;
    this.channel.send(encodeFrame({ k: 'reply', id: h.id, from, to: COORDINATOR, ok: false }, serializeError(err, { device: `${this.host.name}/${this.device.name}` })));
  }

  /** After "close": the device worker answers and ends; then the session ends once the answer is acknowledged. */
  private async closeWorker(): Promise<void> {
    await this.link?.close(2000);
    await this.waitDrained(2000);
    await this.end('closed by its coordinator');
  }

  private async waitDrained(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.channel.drained && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  /** Ends the device worker and the session; `tell` sends the coordinator a bye with the reason. */
  async end(reason: string, tell = true): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.peers.stop(`its session ended: ${reason}`);
    if (tell) this.channel.bye(reason, false);
    else this.channel.stop();
    this.host.ended(this, reason);
    if (this.link) {
      this.link.kill();
      await this.link.close(0).catch(() => undefined);
    }
  }
}

function safeBody(frame: Uint8Array): unknown {
  try {
    return decodeBody(frame);
  } catch {
    return undefined;
  }
}
