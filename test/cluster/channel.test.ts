// The frame channel over a real nats-server: frames far above max_payload
// arrive whole and in order, chunks lost on the way are sent again, a corrupted
// frame or a protocol violation ends the session, a silent peer is gone after
// the deadline. A relay between the two ends drops or alters chunks on purpose.
import { NatsConnection, connect } from 'nats';
import { FrameChannel } from '../../src/runtime/nats/channel';
import { CHUNK_HEADER_BYTES, readChunkHeader } from '../../src/runtime/nats/chunks';
import { NatsServer, sleep, startNatsServer, stopAll } from './harness';

jest.setTimeout(60_000);

let server: NatsServer;
let a: NatsConnection;
let b: NatsConnection;

beforeAll(async () => {
  // A small max_payload, so even modest frames travel as many chunks.
  server = await startNatsServer({ config: 'max_payload: 65536\n' });
  [a, b] = await Promise.all([connect({ servers: server.url }), connect({ servers: server.url })]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await stopAll();
});

let n = 0;
/** Two channel ends; A's chunks go through `relay`, which may drop (return undefined) or alter them. */
function pair(relay: (msg: Uint8Array, i: number) => Uint8Array | undefined = (m) => m, deadlineMs = 10_000) {
  const id = ++n;
  const s = { ab: `t${id}.ab`, abRelayed: `t${id}.ab2`, ba: `t${id}.ba` };
  let i = 0;
  const sub = b.subscribe(s.ab, { callback: (_e, m) => {
    const out = relay(new Uint8Array(m.data), i++);
    if (out) b.publish(s.abRelayed, out);
  } });
  const left = new FrameChannel({ nc: a, sendSubject: s.ab, recvSubject: s.ba, heartbeatMs: 100, deadlineMs, peer: 'right' });
  const right = new FrameChannel({ nc: b, sendSubject: s.ba, recvSubject: s.abRelayed, heartbeatMs: 100, deadlineMs, peer: 'left' });
  const got: Uint8Array[] = [];
  const gone: string[] = [];
  left.start({ onFrame: () => undefined, onGone: (r) => void gone.push(`left: ${r}`) });
  right.start({ onFrame: (f) => void got.push(f), onGone: (r) => void gone.push(`right: ${r}`) });
  return { left, right, got, gone, close: () => (left.stop(), right.stop(), sub.unsubscribe()) };
}

function frame(bytes: number, seed: number): Uint8Array {
  const f = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) f[i] = (i * 31 + seed) & 255;
  return f;
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
}

test('frames far above max_payload arrive whole, checked and in order; acknowledged frames report written', async () => {
  const p = pair();
  try {
    await Promise.all([a.flush(), b.flush()]);
    const frames = [frame(3_000_000, 1), frame(8, 2), frame(65_536 - CHUNK_HEADER_BYTES, 3), frame(0, 4), frame(200_001, 5)];
    let written = 0;
    for (const f of frames) p.left.send(f, () => written++);
    await until(() => p.got.length === frames.length && written === frames.length);
    expect(p.got.map((f) => f.byteLength)).toEqual(frames.map((f) => f.byteLength));
    for (let k = 0; k < frames.length; k++) expect(Buffer.compare(Buffer.from(p.got[k]), Buffer.from(frames[k]))).toBe(0);
    expect(p.got[0].byteOffset % 8).toBe(0);
    expect(written).toBe(frames.length);
    expect(p.left.drained).toBe(true);
    expect(p.gone).toEqual([]);
  } finally {
    p.close();
  }
});

test('lost chunks are sent again: every 5th chunk dropped once, the frames still arrive exactly once, in order', async () => {
  const dropped = new Set<number>();
  const p = pair((msg, i) => {
    const h = readChunkHeader(msg)!;
    if (h.type === 1 && h.n % 5 === 2 && !dropped.has(h.n)) {
      dropped.add(h.n);
      return undefined;
    }
    return i >= 0 ? msg : undefined;
  });
  try {
    await Promise.all([a.flush(), b.flush()]);
    const frames = [frame(1_000_000, 7), frame(100, 8), frame(500_000, 9)];
    for (const f of frames) p.left.send(f);
    await until(() => p.got.length === frames.length && p.left.drained);
    expect(dropped.size).toBeGreaterThan(3);
    expect(p.left.stats.retransmits).toBeGreaterThan(0);
    expect(p.got.map((f) => f.byteLength)).toEqual(frames.map((f) => f.byteLength));
    for (let k = 0; k < frames.length; k++) expect(Buffer.compare(Buffer.from(p.got[k]), Buffer.from(frames[k]))).toBe(0);
    expect(p.gone).toEqual([]);
  } finally {
    p.close();
  }
});

test('a corrupted chunk fails its CRC-32 check and ends the session; a silent peer is gone after the deadline', async () => {
  const bad = pair((msg) => {
    const h = readChunkHeader(msg)!;
    if (h.type === 1 && h.index === 1) msg[CHUNK_HEADER_BYTES + 10] ^= 0xff;
    return msg;
  });
  try {
    await Promise.all([a.flush(), b.flush()]);
    bad.left.send(frame(200_000, 3));
    await until(() => bad.gone.length > 0);
    expect(bad.got).toEqual([]);
    expect(bad.gone[0]).toBe('right: a chunk failed its CRC-32 check (protocol violation)');
  } finally {
    bad.close();
  }
  const silent = pair(() => undefined, 600);
  try {
    const t0 = Date.now();
    await until(() => silent.gone.length > 0, 5000);
    expect(silent.gone[0]).toMatch(/^right: no heartbeat from left for \d+ ms \(deadline 600 ms\)$/);
    expect(Date.now() - t0).toBeLessThan(600 + 1000);
  } finally {
    silent.close();
  }
});
