// Large frames between the coordinator and worker processes travel through
// shared-memory files (src/runtime/stream-frames.ts, spill-dir.ts): the bytes
// arrive intact, relays pass the file on, and no file stays behind.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { PushDist } from '../../src/runtime/coordinator';
import { WORKER_HEAP_BLOCK_BYTES, workerMallocTunables } from '../../src/runtime/links';
import { coordinatorSpillDir } from '../../src/runtime/spill-dir';
import { FREE_MAX_BYTES, FREE_MAX_FILES, FrameReader, FrameReaderOptions, FrameWriter, SPILL_MIN_BYTES, frameBytes, isSpilled, materialize, release } from '../../src/runtime/stream-frames';
import { decodeBody, decodeHeader, encodeFrame, encodeFrameParts, joinFrame } from '../../src/runtime/wire';
import { HANDLERS, SMALL_MODEL } from './helpers';

/** Spill files in `dir` that hold a frame in flight, and those read and kept for reuse. */
const frameFiles = (dir: string) => fs.readdirSync(dir).filter((f) => !f.startsWith('free-'));
const freeFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith('free-'));

const big = (n: number, seed = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * seed));

/** A writer and a reader joined by an in-memory stream; frames read so far, in order. */
function pipe(writerDir: string | null, reader: FrameReaderOptions) {
  const stream = new PassThrough();
  const got: Uint8Array[] = [];
  const errors: Error[] = [];
  const wire = { bytes: 0 };
  stream.on('data', (c: Buffer) => (wire.bytes += c.length));
  const r = new FrameReader((f) => got.push(f), { onError: (e) => errors.push(e), ...reader });
  stream.on('data', (c: Buffer) => r.push(c));
  return { writer: new FrameWriter(stream, writerDir), got, errors, wire, flushed: () => new Promise((res) => setImmediate(res)) };
}

describe('spilled frames (unit)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spill-test-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a large frame goes through a file that the reader keeps for reuse; a small one stays inline', async () => {
    const { writer, got, errors, wire, flushed } = pipe(dir, { spillDir: dir });
    const large = encodeFrame({ k: 'call', id: 'c:1' }, [big(SPILL_MIN_BYTES / 4 + 10)]);
    const small = encodeFrame({ k: 'call', id: 'c:2' }, [big(10)]);
    writer.write(large);
    writer.write(small);
    await flushed();
    expect(errors).toEqual([]);
    expect(wire.bytes).toBe(24 + 4 + small.byteLength); // the large frame's bytes never entered the stream
    expect(got.map((f) => Buffer.from(f).equals(Buffer.from(f === got[0] ? large : small)))).toEqual([true, true]);
    expect(Array.from(decodeBody<Float32Array[]>(got[0])[0].subarray(0, 3))).toEqual(Array.from(big(3)));
    expect(frameFiles(dir)).toEqual([]);
    expect(freeFiles(dir)).toEqual([expect.stringMatching(new RegExp(`^free-${large.byteLength}-[0-9a-f]{32}$`))]);
  });

  test('a frame in parts is written from its arrays; the file reads back as the joined frame', async () => {
    const { writer, got, flushed } = pipe(dir, { spillDir: dir });
    const rows = [big(300_001, 2), big(5, 3)]; // unaligned lengths: padding becomes holes that read as zeros
    const parts = encodeFrameParts({ k: 'reply', id: 'd0:1', ok: true }, { params: rows[0], grads: rows[1] });
    const joined = joinFrame(parts);
    writer.writeParts(parts);
    rows[0].fill(0); // the sender's arrays may change once writeParts returns
    await flushed();
    expect(Buffer.from(got[0]).equals(Buffer.from(joined))).toBe(true);
  });

  test('a relay keeps the stub and passes the file on; materialize and release read or drop it', async () => {
    const frame = encodeFrame({ k: 'call', id: 'c:9', to: 1 }, [big(SPILL_MIN_BYTES / 2)]);
    const hop1 = pipe(dir, { spillDir: dir, keepStub: (stub) => decodeHeader<{ to: number }>(stub).to !== -1 });
    hop1.writer.write(frame);
    await hop1.flushed();
    const stub = hop1.got[0];
    expect(isSpilled(stub)).toBe(true);
    expect(stub.byteLength).toBeLessThan(100);
    expect(frameBytes(stub)).toBe(frame.byteLength);
    expect(decodeHeader(stub)).toEqual({ k: 'call', id: 'c:9', to: 1 });
    const hop2 = pipe(dir, { spillDir: dir });
    hop2.writer.write(stub); // the 24-byte reference, not the bytes
    await hop2.flushed();
    expect(Buffer.from(hop2.got[0]).equals(Buffer.from(frame))).toBe(true);
    expect(frameFiles(dir)).toEqual([]);

    hop1.writer.write(frame);
    hop1.writer.write(frame);
    await hop1.flushed();
    expect(Buffer.from(materialize(hop1.got[1])).equals(Buffer.from(frame))).toBe(true);
    expect(frameFiles(dir)).toHaveLength(1);
    release(hop1.got[2]);
    expect(frameFiles(dir)).toEqual([]);
  });

  test('a writer reuses a read file, overwriting all of it (padding too), and at most a few wait for reuse', async () => {
    const { writer, got, flushed } = pipe(dir, { spillDir: dir });
    const first = encodeFrameParts({ k: 'reply', id: 'd0:1', ok: true }, [big(300_003, 7).fill(-1), big(3, 7).fill(-1)]);
    writer.writeParts(first);
    await flushed();
    const [kept] = freeFiles(dir);
    const inode = fs.statSync(path.join(dir, kept)).ino;

    // Unread, the second frame sits in the reused file (same inode), now the second frame's size.
    const stream = new PassThrough();
    const refs: Buffer[] = [];
    stream.on('data', (c: Buffer) => refs.push(c));
    const second = encodeFrameParts({ k: 'reply', id: 'd0:2', ok: true }, [big(300_001, 8), big(5, 8)]); // other padding
    new FrameWriter(stream, dir).writeParts(second);
    await flushed();
    expect(freeFiles(dir)).toEqual([]);
    expect(frameFiles(dir)).toHaveLength(1);
    const file = path.join(dir, frameFiles(dir)[0]);
    expect(fs.statSync(file).ino).toBe(inode);
    expect(fs.statSync(file).size).toBe(second.byteLength);
    const reader = new FrameReader((f) => got.push(f), { spillDir: dir });
    for (const r of refs) reader.push(r);
    expect(Buffer.from(got[1]).equals(Buffer.from(joinFrame(second)))).toBe(true); // padding reads as zeros, not the first frame's bytes

    // Frames all written before any is read: only FREE_MAX_FILES of their files wait afterwards.
    const many = Array.from({ length: FREE_MAX_FILES + 3 }, (_, i) => encodeFrame({ k: 'call', id: `c:${i}` }, [big(SPILL_MIN_BYTES / 4, i)]));
    const held = new PassThrough();
    const chunks: Buffer[] = [];
    held.on('data', (c: Buffer) => chunks.push(c));
    const w = new FrameWriter(held, dir);
    for (const f of many) w.write(f);
    await flushed();
    const before = got.length;
    for (const c of chunks) reader.push(c);
    expect(got.slice(before).map((f, i) => Buffer.from(f).equals(Buffer.from(many[i])))).toEqual(many.map(() => true));
    expect(frameFiles(dir)).toEqual([]);
    expect(freeFiles(dir)).toHaveLength(FREE_MAX_FILES);
    const freeBytes = freeFiles(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
    expect(freeBytes).toBeLessThanOrEqual(FREE_MAX_BYTES);
  });

  test('a reference the reader cannot resolve is an error, not a lost frame', async () => {
    const noDir = pipe(dir, {});
    noDir.writer.write(new Uint8Array(SPILL_MIN_BYTES));
    await noDir.flushed();
    expect(noDir.errors.map((e) => e.message)).toEqual(['a spilled frame arrived on a stream without a spill directory']);
    expect(noDir.got).toEqual([]);
    fs.rmSync(path.join(dir, fs.readdirSync(dir)[0])); // left for the coordinator's clean-up in a real run

    const errors: Error[] = [];
    const reader = new FrameReader(() => undefined, { spillDir: dir, onError: (e) => errors.push(e) });
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => {
      for (const f of fs.readdirSync(dir)) fs.truncateSync(path.join(dir, f), 10); // the file changed under the reference
      reader.push(c);
    });
    new FrameWriter(stream, dir).write(new Uint8Array(SPILL_MIN_BYTES));
    await new Promise((res) => setImmediate(res));
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/holds 10 bytes, its reference says 1048576$/)]);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('without a spill directory large frames stream inline', async () => {
    const { writer, got, flushed } = pipe(null, {});
    const frame = encodeFrame({ k: 'x' }, [big(SPILL_MIN_BYTES / 2)]);
    writer.write(frame);
    await flushed();
    expect(Buffer.from(got[0]).equals(Buffer.from(frame))).toBe(true);
  });
});

describe('worker malloc tunables', () => {
  test('huge pages and a heap that keeps large blocks are added; values the caller set win', () => {
    const heap = WORKER_HEAP_BLOCK_BYTES;
    expect(workerMallocTunables(undefined)).toBe(`glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=${heap}:glibc.malloc.trim_threshold=${heap}`);
    expect(workerMallocTunables('')).toBe(workerMallocTunables(undefined));
    expect(workerMallocTunables('glibc.malloc.mmap_threshold=4096:glibc.malloc.hugetlb=0')).toBe(
      `glibc.malloc.mmap_threshold=4096:glibc.malloc.hugetlb=0:glibc.malloc.trim_threshold=${heap}`,
    );
  });
});

describe('spilled frames between processes', () => {
  const floats = 1 << 20; // 4 MB: every hop spills
  let dist: PushDist;

  beforeAll(async () => {
    dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: SMALL_MODEL, handlers: HANDLERS, isolation: 'process', seed: 3 });
    for (let i = 0; i < 2; i++) dist.createParticle();
  });

  afterAll(async () => {
    await dist.close();
  });

  test('coordinator to process and back, and process to process through the coordinator, intact', async () => {
    const dir = coordinatorSpillDir();
    expect(dir).not.toBeNull();
    const files = new Set<string>();
    const watcher = fs.watch(dir!, (_event, name) => name && files.add(name));
    const payload = big(floats, 5);
    const echoed = await dist.launch<Float32Array[]>(0, 'echo', payload);
    expect(Buffer.from(echoed[0].buffer, echoed[0].byteOffset, echoed[0].byteLength).equals(Buffer.from(payload.buffer))).toBe(true);
    const relayed = await dist.launch<Float32Array[]>(0, 'relay', 1, 'echo', payload); // cpu:0 -> cpu:1 -> cpu:0 -> coordinator
    expect(relayed[0].length).toBe(floats);
    expect(relayed[0][12345]).toBe(payload[12345]);
    expect(relayed[0][floats - 1]).toBe(payload[floats - 1]);
    const made = await dist.launch<Float32Array[]>(1, 'relay', 0, 'makePayload', floats);
    expect(made.length).toBe(floats);
    await new Promise((res) => setTimeout(res, 50));
    watcher.close();
    // echo: 2 files; relay: 4 hops, each relayed hop one file; makePayload: 2 hops through one file each
    expect(files.size).toBeGreaterThanOrEqual(6);
    expect(frameFiles(dir!)).toEqual([]);
    expect(freeFiles(dir!).length).toBeGreaterThan(0);
    expect(freeFiles(dir!).length).toBeLessThanOrEqual(FREE_MAX_FILES);
    const stats = await dist.stats();
    expect(stats.find((s) => s.device === 'cpu:1')!.bytesMoved).toBeGreaterThan(3 * floats * 4); // real sizes, not the stubs'
  });

  test('worker processes run with malloc settings that keep freed large blocks; frames read into recycled memory arrive exact', async () => {
    const tunables = await dist.launch<string>(0, 'glibcTunables');
    expect(tunables.split(':').sort()).toEqual(
      ['glibc.malloc.hugetlb=1', `glibc.malloc.mmap_threshold=${WORKER_HEAP_BLOCK_BYTES}`, `glibc.malloc.trim_threshold=${WORKER_HEAP_BLOCK_BYTES}`].sort(),
    );
    // Received frames start uninitialised, in memory earlier frames used: each must still arrive exact.
    for (const seed of [7, 8, 9]) {
      const payload = big(floats + 3, seed); // unaligned: the padding after it is a hole in the file
      const got = await dist.launch<Float32Array[]>(1, 'relay', 0, 'echo', payload, big(5, seed));
      expect(Buffer.from(got[0].buffer, got[0].byteOffset, got[0].byteLength).equals(Buffer.from(payload.buffer))).toBe(true);
      expect(Array.from(got[1])).toEqual(Array.from(big(5, seed)));
    }
  });

  test('with PUSH_ENS_SPILL=0 the same large messages stream through the socket', () => {
    const script = `
      const { PushDist } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'src', 'runtime', 'coordinator.js'))});
      const { coordinatorSpillDir } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'src', 'runtime', 'spill-dir.js'))});
      (async () => {
        const dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: ${JSON.stringify(SMALL_MODEL)}, handlers: ${JSON.stringify(HANDLERS)}, isolation: 'process' });
        dist.createParticle(); dist.createParticle();
        const x = Float32Array.from({ length: ${floats} }, (_, i) => i);
        const out = await dist.launch(0, 'relay', 1, 'echo', x);
        console.log(JSON.stringify({ dir: coordinatorSpillDir(), n: out[0].length, last: out[0][${floats} - 1] }));
        await dist.close();
      })();`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PUSH_ENS_SPILL: '0' } });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ dir: null, n: floats, last: floats - 1 });
  });
});
