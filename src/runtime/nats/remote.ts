// The coordinator's side of remote devices: one NATS connection per PushDist,
// a session per remote device (claimed from its worker host by request-reply),
// and NatsLink, the DeviceLink that carries the session's frames, so that
// everything above the link works for a remote device as for a local one.
import * as os from 'node:os';
import type { NatsConnection } from 'nats';
import { PushInputError, PushWorkerError } from '../../util/errors';
import type { Device } from '../devices';
import type { DeviceLink } from '../links';
import { packageVersion } from '../../cli/version';
import { FrameChannel } from './channel';
import { NatsHub } from './hub';
import { NatsOptions, resolveNatsOptions } from './options';
import {
  DISCOVER_SUBJECT,
  NATS_PROTOCOL,
  OpenRequest,
  WorkerAdvert,
  checkAdvert,
  encodeControl,
  openSubject,
  parseControl,
  sessionSubjects,
} from './protocol';

const OPEN_TIMEOUT_MS = 10_000;

export class NatsLink implements DeviceLink {
  readonly kind = 'nats' as const;
  readonly pid = undefined;
  private frameCb: (f: Uint8Array) => void = () => {};
  private deathCb: (reason: string) => void = () => {};
  private closing = false;
  private dead = false;
  private ended = false;
  private endedCb?: () => void;

  constructor(
    private readonly hub: NatsHub,
    private readonly channel: FrameChannel,
    /** Where the device really is, e.g. "hostB/cpu:1". */
    readonly where: string,
    /** The session's id, host and device on the host: what peers need to send it frames directly. */
    readonly session: { session: string; host: string; device: string },
  ) {
    hub.add(channel);
  }

  /** Wires the channel; called before the open request, so nothing the host sends is missed. */
  start(): void {
    this.channel.start({
      onFrame: (f) => this.frameCb(f),
      onGone: (reason) => {
        this.ended = true;
        this.hub.remove(this.channel);
        this.endedCb?.();
        if (this.dead || this.closing) return;
        this.dead = true;
        this.deathCb(`${reason}; on ${this.where}`);
      },
    });
  }

  send(frame: Uint8Array, onWritten?: () => void): void {
    this.channel.send(frame, onWritten);
  }

  onFrame(cb: (frame: Uint8Array) => void): void {
    this.frameCb = cb;
  }

  onDeath(cb: (reason: string) => void): void {
    this.deathCb = cb;
  }

  hold(): void {
    // The NATS connection keeps the process alive until the PushDist closes it.
  }

  kill(): void {
    this.dead = true;
    this.end('killed by the coordinator');
  }

  /** Waits up to graceMs for the host to say its device worker ended (after "close"), then ends the session. */
  async close(graceMs = 2000): Promise<void> {
    this.closing = true;
    if (!this.ended && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.endedCb = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.end('the coordinator closed the session');
  }

  private end(reason: string): void {
    if (!this.ended) this.channel.bye(reason, true);
    this.ended = true;
    this.hub.remove(this.channel);
  }
}

/** One PushDist's connection to the NATS servers and its sessions. */
export class RemoteDevices {
  /** Random id of this coordinator, sent with every open request. */
  private readonly id: string;
  private readonly label = `${os.hostname()} pid ${process.pid}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);

  private constructor(private readonly hub: NatsHub) {
    this.id = newId();
  }

  static async connect(opts: NatsOptions | undefined): Promise<RemoteDevices> {
    const settings = resolveNatsOptions(opts, `push-ens coordinator ${os.hostname()} pid ${process.pid}`);
    return new RemoteDevices(await NatsHub.connect(settings));
  }

  get connection(): NatsConnection {
    return this.hub.nc;
  }

  /** Opens a session on `device` of its host; one-line errors when the host is missing, busy or incompatible. */
  async claim(device: Device, logical = device.name): Promise<NatsLink> {
    const host = device.host!;
    const local = `${device.kind}:${device.index}`;
    const { heartbeatMs, deadlineMs, servers } = this.hub.settings;
    const session = newId();
    const subjects = sessionSubjects(host, local, session);
    const channel = new FrameChannel({ nc: this.hub.nc, sendSubject: subjects.toWorker, recvSubject: subjects.toCoordinator, heartbeatMs, deadlineMs, peer: `worker host ${host}` });
    const link = new NatsLink(this.hub, channel, device.name, { session, host, device: local });
    link.start();
    const req: OpenRequest = { protocol: NATS_PROTOCOL, version: packageVersion(), coordinator: this.id, label: this.label, session, device: local, heartbeatMs, deadlineMs };
    try {
      let data: Uint8Array;
      try {
        data = (await this.hub.nc.request(openSubject(host), encodeControl(req), { timeout: OPEN_TIMEOUT_MS })).data;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === '503') throw new PushWorkerError(`device ${logical}: no worker host named ${JSON.stringify(host)} answers on nats ${servers.join(',')} (is \`push-ens worker --name ${host}\` running there?)`, logical);
        if (code === 'TIMEOUT') throw new PushWorkerError(`device ${logical}: worker host ${host} did not answer within ${OPEN_TIMEOUT_MS} ms`, logical);
        throw new PushWorkerError(`device ${logical}: opening a session on worker host ${host} failed: ${(err as Error).message.split('\n')[0]}`, logical);
      }
      const reply = parseControl(data);
      if (!reply || typeof reply.protocol !== 'number') throw new PushWorkerError(`device ${logical}: worker host ${host} sent a malformed reply`, logical);
      if (reply.protocol !== NATS_PROTOCOL) {
        throw new PushInputError(`device ${logical}: worker host ${host} speaks push-ens NATS protocol ${reply.protocol}, this coordinator ${NATS_PROTOCOL}: run the same push-ens version on both`);
      }
      if (reply.ok !== true) throw new PushInputError(`device ${logical}: worker host ${host} refused: ${String(reply.error).slice(0, 300)}`);
      return link;
    } catch (err) {
      link.kill();
      throw err;
    }
  }

  /**
   * A session for a dead remote device's particles: the same device when its host
   * answers again, else a free device of the same kind on another worker host.
   */
  async reclaim(device: Device): Promise<NatsLink> {
    try {
      return await this.claim(device);
    } catch (first) {
      const adverts = await discoverWorkers(this.hub.nc, 500);
      for (const a of adverts) {
        if (a.host === device.host || a.protocol !== NATS_PROTOCOL || a.draining) continue;
        for (const d of a.devices) {
          if (d.kind !== device.kind || d.free < 1) continue;
          const substitute: Device = { name: `${a.host}/${d.device}`, kind: d.kind, index: Number(d.device.split(':')[1]), host: a.host };
          try {
            return await this.claim(substitute, device.name);
          } catch {
            /* taken meanwhile: try the next */
          }
        }
      }
      throw first;
    }
  }

  close(): Promise<void> {
    return this.hub.close();
  }
}

/** Asks every worker host for its advert; collects the answers that arrive within waitMs. */
export async function discoverWorkers(nc: NatsConnection, waitMs: number): Promise<WorkerAdvert[]> {
  const { createInbox } = require('nats') as typeof import('nats');
  const inbox = createInbox();
  const found = new Map<string, WorkerAdvert>();
  const sub = nc.subscribe(inbox, {
    max: 10_000,
    callback: (err, msg) => {
      if (err) return;
      const a = checkAdvert(parseControl(msg.data));
      if (a) found.set(a.host, a);
    },
  });
  nc.publish(DISCOVER_SUBJECT, new Uint8Array(0), { reply: inbox });
  await nc.flush();
  await new Promise((r) => setTimeout(r, waitMs));
  sub.unsubscribe();
  return [...found.values()].sort((a, b) => a.host.localeCompare(b.host));
}

/** The peer table a coordinator sends every remote session: device index, host, device and session. */
export function peerTable(links: readonly { index: number; link: { kind: string } }[]): { index: number; host: string; device: string; session: string }[] {
  return links.flatMap(({ index, link }) => (link instanceof NatsLink ? [{ index, ...link.session }] : []));
}

function newId(): string {
  const { nuid } = require('nats') as typeof import('nats');
  return nuid.next();
}
