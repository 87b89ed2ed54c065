// One direction pair of a session: frames out on one subject, frames in on
// another, delivered complete, checked, in order and exactly once, across NATS
// server failovers.
//
// NATS core delivers at most once: a server that dies takes the messages it
// holds with it. So chunks are numbered and kept until the peer acknowledges
// them (cumulatively, in every message it sends, or in a beat); chunks not
// acknowledged within RETRANSMIT_MS, or when the connection comes back after a
// failover, are sent again from the first missing one, and the receiver drops
// duplicates and anything after a gap. The unacknowledged bytes are bounded by
// a window (flow control): a 100 MB frame never floods the server, whose slow
// consumer limit would otherwise cut the connection.
//
// Liveness: each side sends a beat when it has sent nothing for heartbeatMs;
// a peer silent for deadlineMs is gone. A bye ends the session at once.
import type { NatsConnection, Subscription } from 'nats';
import { CHUNK_HEADER_BYTES, ChunkHeader, ChunkType, chunkCrc, controlChunk, readChunkHeader, writeChunkHeader } from './chunks';
import { NATS_PROTOCOL, encodeControl, parseControl } from './protocol';

/** Largest frame accepted from a peer (a snapshot of 60 M parameters with Adam's two slots and gradients). */
export const MAX_FRAME_BYTES = 2 ** 30;
/** Largest chunk payload, whatever the server allows. */
const MAX_CHUNK_DATA = 8 << 20;
/** Unacknowledged bytes in flight, at least. */
const MIN_WINDOW_BYTES = 16 << 20;
const RETRANSMIT_MS = 1000;
const DELAYED_ACK_MS = 5;

export interface ChannelOptions {
  nc: NatsConnection;
  sendSubject: string;
  /** Subscribed by the channel; '' when the owner delivers the messages itself (deliver()). */
  recvSubject: string;
  heartbeatMs: number;
  deadlineMs: number;
  /** Names the peer in errors, e.g. "worker host hostA (device cpu:0)". */
  peer: string;
}

export interface ChannelEvents {
  onFrame(frame: Uint8Array): void;
  /** Once: the peer said bye, went silent, or broke the protocol. `bye` carries what it said. */
  onGone(reason: string, bye?: { reason: string; kill: boolean }): void;
}

interface Outgoing {
  frame: Uint8Array;
  count: number;
  chunkData: number;
  next: number;
  onWritten?: () => void;
}

interface Sent {
  n: number;
  msg: Uint8Array;
  bytes: number;
  onWritten?: () => void;
}

interface Assembly {
  buf: Uint8Array;
  filled: number;
  next: number;
  count: number;
}

export class FrameChannel {
  private sub?: Subscription;
  private started = false;
  private events: ChannelEvents = { onFrame: () => {}, onGone: () => {} };
  private ended = false;
  // send side
  private readonly queue: Outgoing[] = [];
  private readonly unacked: Sent[] = [];
  private inflight = 0;
  private nextN = 0;
  private lastProgress = Date.now();
  private lastSent = 0;
  private lastAck = 0;
  private dupAcks = 0;
  private readonly pool: Uint8Array[] = [];
  // receive side
  private recvNext = 0;
  private assembly?: Assembly;
  private unackedIn = 0;
  private ackTimer?: NodeJS.Timeout;
  private lastHeard = Date.now();
  private lastTick = Date.now();
  private lastGapAck = 0;
  private ticker?: NodeJS.Timeout;
  readonly stats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, retransmits: 0 };

  constructor(private readonly o: ChannelOptions) {}

  /** Subscribes and starts the heartbeat; frames sent before start() are queued. */
  start(events: ChannelEvents): void {
    this.events = events;
    if (this.o.recvSubject !== '') {
      this.sub = this.o.nc.subscribe(this.o.recvSubject, { callback: (err, msg) => (err ? this.gone(`its subscription failed: ${err.message}`) : this.onMessage(msg.data)) });
    }
    this.started = true;
    const tick = Math.max(20, Math.min(250, Math.floor(this.o.heartbeatMs / 2)));
    this.lastHeard = this.lastTick = Date.now();
    this.ticker = setInterval(() => this.tick(), tick);
    this.ticker.unref();
    this.pump();
  }

  send(frame: Uint8Array, onWritten?: () => void): void {
    if (this.ended) return;
    const chunkData = this.chunkData();
    const count = Math.max(1, Math.ceil(frame.byteLength / chunkData));
    this.queue.push({ frame, count, chunkData, next: 0, onWritten });
    this.stats.framesOut++;
    this.stats.bytesOut += frame.byteLength;
    if (this.started) this.pump();
  }

  /** A message for this channel that its owner received (one subscription for many channels). */
  deliver(msg: Uint8Array): void {
    if (this.started) this.onMessage(msg);
  }

  /** The connection came back (maybe to another server): send again whatever the peer has not acknowledged. */
  resend(): void {
    if (this.ended) return;
    this.retransmit();
  }

  /** Sends a bye (twice: it is not retransmitted) and stops. */
  bye(reason: string, kill: boolean): void {
    if (this.ended) return;
    const msg = controlChunk(ChunkType.Bye, this.recvNext, encodeControl({ reason: reason.slice(0, 500), kill }));
    this.publish(msg);
    this.publish(msg);
    this.stop();
  }

  /** Whether every frame sent so far has been acknowledged. */
  get drained(): boolean {
    return this.queue.length === 0 && this.unacked.length === 0;
  }

  /** Unsubscribes and stops the timers; no event fires afterwards. */
  stop(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.ticker);
    clearTimeout(this.ackTimer);
    try {
      this.sub?.unsubscribe();
    } catch {
      /* the connection is closed */
    }
    this.queue.length = 0;
    this.unacked.length = 0;
    this.pool.length = 0;
  }

  // ---- sending ----

  private chunkData(): number {
    const max = this.o.nc.info?.max_payload ?? 1 << 20;
    return Math.max(1024, Math.min(MAX_CHUNK_DATA, max - CHUNK_HEADER_BYTES));
  }

  private window(chunkData: number): number {
    return Math.max(MIN_WINDOW_BYTES, 4 * chunkData);
  }

  private pump(): void {
    while (!this.ended && this.queue.length > 0) {
      const out = this.queue[0];
      if (this.inflight > 0 && this.inflight + out.chunkData > this.window(out.chunkData)) return;
      const start = out.next * out.chunkData;
      const end = Math.min(out.frame.byteLength, start + out.chunkData);
      const msg = this.takeBuffer(CHUNK_HEADER_BYTES + end - start);
      const last = out.next === out.count - 1;
      const data = out.frame.subarray(start, end);
      writeChunkHeader(msg, { type: ChunkType.Data, protocol: NATS_PROTOCOL, index: out.next, n: this.nextN, ack: this.recvNext, count: out.count, frameLength: out.frame.byteLength, crc: chunkCrc(data) });
      msg.set(data, CHUNK_HEADER_BYTES);
      const sent: Sent = { n: this.nextN++, msg, bytes: end - start, onWritten: last ? out.onWritten : undefined };
      if (this.unacked.length === 0) this.lastProgress = Date.now();
      this.unacked.push(sent);
      this.inflight += sent.bytes;
      out.next++;
      if (last) this.queue.shift();
      this.ackSent();
      this.publish(msg);
    }
  }

  /** Chunk buffers are reused once acknowledged: a fresh large buffer costs page faults on every chunk. */
  private takeBuffer(bytes: number): Uint8Array {
    if (bytes >= 64 << 10) {
      const i = this.pool.findIndex((b) => b.byteLength >= bytes);
      if (i >= 0) return this.pool.splice(i, 1)[0].subarray(0, bytes);
    }
    return new Uint8Array(bytes);
  }

  private publish(msg: Uint8Array): void {
    this.lastSent = Date.now();
    try {
      this.o.nc.publish(this.o.sendSubject, msg);
    } catch (err) {
      // Closed connection: the deadline reports the peer as gone; too large a payload is a bug.
      if (!/closed|draining/i.test(String((err as Error).message))) this.gone(`a message could not be sent: ${(err as Error).message}`);
    }
  }

  private onAck(ack: number): void {
    if (ack > this.nextN) return this.gone('it acknowledged chunks never sent (protocol violation)');
    let progressed = false;
    while (this.unacked.length > 0 && this.unacked[0].n < ack) {
      const s = this.unacked.shift()!;
      this.inflight -= s.bytes;
      progressed = true;
      if (s.msg.buffer.byteLength >= 64 << 10 && this.pool.length < 16) this.pool.push(new Uint8Array(s.msg.buffer));
      s.onWritten?.();
    }
    if (progressed) {
      this.lastProgress = Date.now();
      this.dupAcks = 0;
      this.pump();
    } else if (ack === this.lastAck && this.unacked.length > 0 && ++this.dupAcks === 3) {
      // The peer keeps saying where it stands, behind what we sent: a chunk was lost. Resend now.
      this.dupAcks = 0;
      this.retransmit();
    }
    this.lastAck = ack;
  }

  private retransmit(): void {
    if (this.unacked.length === 0) return;
    this.stats.retransmits++;
    this.lastProgress = Date.now();
    // The ack field of a resent chunk is stale; acknowledgements are cumulative, so that is harmless.
    for (const s of this.unacked) this.publish(s.msg);
  }

  // ---- receiving ----

  private onMessage(msg: Uint8Array): void {
    if (this.ended) return;
    const h = readChunkHeader(msg);
    if (!h) return; // not ours: ignore, as any stray message on the subject
    if (h.protocol !== NATS_PROTOCOL) return this.gone(`it speaks push-ens NATS protocol ${h.protocol}, this side ${NATS_PROTOCOL}`);
    this.lastHeard = Date.now();
    this.onAck(h.ack);
    if (this.ended) return;
    if (h.type === ChunkType.Bye) {
      const body = parseControl(msg.subarray(CHUNK_HEADER_BYTES));
      const reason = typeof body?.reason === 'string' ? body.reason.slice(0, 500) : 'no reason given';
      const bye = { reason, kill: body?.kill === true };
      this.stop();
      this.events.onGone(reason, bye);
      return;
    }
    if (h.type !== ChunkType.Data) return;
    if (h.n !== this.recvNext) {
      // A duplicate (a retransmission we already have) or a chunk after a gap: say where we
      // are (at most every 20 ms: a whole window may arrive after one gap).
      const now = Date.now();
      if (now - this.lastGapAck >= 20) {
        this.lastGapAck = now;
        this.scheduleAck(0);
      }
      return;
    }
    const problem = this.accept(h, msg.subarray(CHUNK_HEADER_BYTES));
    if (problem) return this.gone(`${problem} (protocol violation)`);
  }

  private accept(h: ChunkHeader, data: Uint8Array): string | undefined {
    if (h.index === 0) {
      if (this.assembly) return 'a frame started before the previous one ended';
      if (h.frameLength > MAX_FRAME_BYTES) return `a frame of ${h.frameLength} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`;
      if (h.count < 1 || h.count > h.frameLength + 1) return `a frame of ${h.frameLength} bytes claims ${h.count} chunks`;
      this.assembly = { buf: new Uint8Array(new ArrayBuffer(h.frameLength)), filled: 0, next: 0, count: h.count };
    }
    const a = this.assembly;
    if (!a || h.index !== a.next || h.count !== a.count || h.frameLength !== a.buf.byteLength) return 'a chunk does not continue its frame';
    if (a.filled + data.byteLength > a.buf.byteLength) return 'a frame overflows its stated length';
    if (chunkCrc(data) !== h.crc) return 'a chunk failed its CRC-32 check';
    a.buf.set(data, a.filled);
    a.filled += data.byteLength;
    a.next++;
    this.recvNext++;
    this.unackedIn += data.byteLength + CHUNK_HEADER_BYTES;
    if (a.next === a.count) {
      this.assembly = undefined;
      if (a.filled !== a.buf.byteLength) return `a frame ended at ${a.filled} of its ${a.buf.byteLength} bytes`;
      this.stats.framesIn++;
      this.stats.bytesIn += a.filled;
      this.events.onFrame(a.buf);
    }
    // Acknowledge large transfers as they come (the sender's window moves on), small ones shortly.
    this.scheduleAck(this.unackedIn >= MIN_WINDOW_BYTES / 4 ? 0 : DELAYED_ACK_MS);
    return undefined;
  }

  private scheduleAck(ms: number): void {
    if (this.ended) return;
    if (ms === 0) {
      this.sendBeat();
      return;
    }
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      if (this.unackedIn > 0) this.sendBeat();
    }, ms);
    this.ackTimer.unref();
  }

  /** Our data carries the acknowledgement: nothing is owed after it. */
  private ackSent(): void {
    this.unackedIn = 0;
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
  }

  private sendBeat(): void {
    this.ackSent();
    this.publish(controlChunk(ChunkType.Beat, this.recvNext));
  }

  private tick(): void {
    const now = Date.now();
    // This event loop was blocked (a long synchronous step, a stopped process): the
    // peer's messages are still queued behind this timer, so its silence says nothing.
    if (now - this.lastTick > Math.max(1000, this.o.heartbeatMs * 2)) this.lastHeard = now;
    this.lastTick = now;
    if (now - this.lastHeard > this.o.deadlineMs) {
      this.gone(`no heartbeat from ${this.o.peer} for ${now - this.lastHeard} ms (deadline ${this.o.deadlineMs} ms)`);
      return;
    }
    if (this.unacked.length > 0 && now - this.lastProgress > RETRANSMIT_MS) this.retransmit();
    if (now - this.lastSent >= this.o.heartbeatMs) this.sendBeat();
  }

  private gone(reason: string): void {
    if (this.ended) return;
    this.stop();
    this.events.onGone(reason);
  }
}
