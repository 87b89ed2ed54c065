// Direct frames between remote devices. A particle's `get` or `send` to a
// particle on another worker host goes straight to that device's session on
// NATS, not through the coordinator: the coordinator tells every remote session
// where the others are (control "peers", answered by the host, never seen by the
// device worker), the host learns which device holds which particle from the
// rosters it passes on, and it keeps one channel per peer it talks to, with the
// same chunking, checks, retransmission and heartbeats as the coordinator's.
// A request whose peer goes silent, says bye or is replaced gets an error reply,
// as the coordinator gives for a dead device; replies go back the way requests came.
import type { NatsConnection, Subscription } from 'nats';
import { COORDINATOR, BY_PID, Header } from '../protocol';
import { decodeHeader, encodeFrame } from '../wire';
import { HOST_NAME_PATTERN } from '../devices';
import { FrameChannel } from './channel';
import type { NatsHub } from './hub';
import { SUBJECT_ROOT } from './protocol';

export interface PeerEntry {
  /** The coordinator's device index of the peer. */
  index: number;
  host: string;
  device: string;
  session: string;
}

const SESSION_PATTERN = /^[A-Za-z0-9]{8,64}$/;
const LOCAL_DEVICE = /^(cpu|cuda):(0|[1-9][0-9]{0,3})$/;

/** Where a session's peers send it frames: `pushens.p.<to>.<from>`. */
export function peerSubject(toSession: string, fromSession: string): string {
  return `${SUBJECT_ROOT}.p.${toSession}.${fromSession}`;
}

/** Validates a peer table from the coordinator; undefined when malformed. */
export function checkPeerTable(v: unknown): PeerEntry[] | undefined {
  if (!Array.isArray(v) || v.length > 100_000) return undefined;
  const out: PeerEntry[] = [];
  for (const e of v as Record<string, unknown>[]) {
    if (!e || typeof e !== 'object') return undefined;
    const { index, host, device, session } = e;
    if (!Number.isInteger(index) || (index as number) < 0 || (index as number) > 1e6) return undefined;
    if (typeof host !== 'string' || !HOST_NAME_PATTERN.test(host) || typeof device !== 'string' || !LOCAL_DEVICE.test(device)) return undefined;
    if (typeof session !== 'string' || !SESSION_PATTERN.test(session)) return undefined;
    out.push({ index: index as number, host, device, session });
  }
  return out;
}

export interface PeerRouterOptions {
  nc: NatsConnection;
  hub: NatsHub;
  session: string;
  heartbeatMs: number;
  deadlineMs: number;
  /** Delivers a frame to the local device worker. */
  toDevice(frame: Uint8Array): void;
}

export class PeerRouter {
  private table = new Map<number, PeerEntry>();
  private bySession = new Map<string, PeerEntry>();
  private readonly channels = new Map<string, FrameChannel>();
  private readonly dead = new Map<string, string>();
  private roster: number[] = [];
  private readonly outgoing = new Map<string, string>();
  private readonly incoming = new Map<string, string>();
  private sub?: Subscription;
  private stopped = false;
  /** This device's index, from its init. */
  index = -1;
  readonly stats = { framesOut: 0, framesIn: 0 };

  constructor(private readonly o: PeerRouterOptions) {}

  start(): void {
    this.sub = this.o.nc.subscribe(`${SUBJECT_ROOT}.p.${this.o.session}.*`, {
      callback: (err, msg) => {
        if (err || this.stopped) return;
        const from = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
        // Only sessions the coordinator named are peers; anything else on the subject is ignored.
        if (!this.bySession.has(from) || this.dead.has(from)) return;
        this.channel(from).deliver(msg.data);
      },
    });
  }

  get active(): boolean {
    return this.table.size > 0;
  }

  setTable(entries: PeerEntry[]): void {
    this.table = new Map(entries.filter((e) => e.session !== this.o.session).map((e) => [e.index, e]));
    this.bySession = new Map([...this.table.values()].map((e) => [e.session, e]));
    for (const [session, ch] of this.channels) {
      if (this.bySession.has(session)) continue;
      ch.bye('replaced by its coordinator', false);
      this.peerGone(session, 'it was replaced by its coordinator');
    }
  }

  setRoster(roster: unknown): void {
    if (Array.isArray(roster) && roster.length <= 10_000_000 && roster.every((d) => Number.isInteger(d))) this.roster = roster as number[];
  }

  /** A frame from the local device worker: true when it went (or was answered) directly. */
  route(h: Header, frame: Uint8Array): boolean {
    if ((h.k === 'call' || h.k === 'get') && h.to === BY_PID) {
      const peer = this.table.get(this.roster[h.pid] ?? -1);
      if (!peer || peer.index === this.index) return false;
      const reason = this.dead.get(peer.session);
      if (reason !== undefined) {
        this.o.toDevice(this.errorReply(h.id, peer, reason));
        return true;
      }
      this.outgoing.set(h.id, peer.session);
      this.stats.framesOut++;
      this.channel(peer.session).send(frame);
      return true;
    }
    if (h.k === 'reply') {
      const session = this.incoming.get(h.id);
      if (session === undefined) return false;
      this.incoming.delete(h.id);
      this.channels.get(session)?.send(frame);
      return true;
    }
    return false;
  }

  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const ch of this.channels.values()) {
      ch.bye(reason, false);
      this.o.hub.remove(ch);
    }
    this.channels.clear();
    try {
      this.sub?.unsubscribe();
    } catch {
      /* closed */
    }
  }

  private channel(session: string): FrameChannel {
    let ch = this.channels.get(session);
    if (ch) return ch;
    const peer = this.bySession.get(session)!;
    ch = new FrameChannel({
      nc: this.o.nc,
      sendSubject: peerSubject(session, this.o.session),
      recvSubject: '',
      heartbeatMs: this.o.heartbeatMs,
      deadlineMs: this.o.deadlineMs,
      peer: `worker host ${peer.host} (${peer.device})`,
    });
    this.channels.set(session, ch);
    this.o.hub.add(ch);
    ch.start({ onFrame: (f) => this.fromPeer(session, f), onGone: (reason) => this.peerGone(session, reason) });
    return ch;
  }

  private fromPeer(session: string, frame: Uint8Array): void {
    let h: Header;
    try {
      h = decodeHeader<Header>(frame);
    } catch {
      return;
    }
    if (!h || typeof h.id !== 'string' || h.id.length > 64) return;
    this.stats.framesIn++;
    if (h.k === 'call' || h.k === 'get') {
      this.incoming.set(h.id, session);
      this.o.toDevice(frame);
    } else if (h.k === 'reply' && this.outgoing.get(h.id) === session) {
      this.outgoing.delete(h.id);
      this.o.toDevice(frame);
    }
  }

  private peerGone(session: string, reason: string): void {
    const ch = this.channels.get(session);
    if (ch) this.o.hub.remove(ch);
    this.channels.delete(session);
    const peer = this.bySession.get(session);
    this.dead.set(session, reason);
    for (const [id, s] of this.outgoing) {
      if (s !== session) continue;
      this.outgoing.delete(id);
      if (peer) this.o.toDevice(this.errorReply(id, peer, reason));
    }
    for (const [id, s] of this.incoming) if (s === session) this.incoming.delete(id);
  }

  private errorReply(id: string, peer: PeerEntry, reason: string): Uint8Array {
    const message = `device ${peer.host}/${peer.device} worker died (${reason})`;
    return encodeFrame({ k: 'reply', id, from: COORDINATOR, to: this.index, ok: false }, { name: 'PushWorkerError', message });
  }
}
