// Length-prefixed frames over a byte stream (the socket between the
// coordinator and a child process). Each frame is reassembled into its own
// 8-byte-aligned buffer, so decodeBody can hand out zero-copy typed views.
//
// Frames of SPILL_MIN_BYTES or more, when both ends have a spill directory in
// shared memory (src/runtime/spill-dir.ts), travel as a file there: the stream
// carries a 24-byte reference (u32 0xFFFFFFFF | u32 frame length | 16-byte
// token naming the file) and the receiver reads the file, then leaves it for
// the next writer to reuse (see FREE_MAX_FILES) or removes it. The
// coordinator relays such a frame between processes as the reference alone,
// holding only its header (a "stub", see isSpilled).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { FrameParts, joinFrame } from './frame-parts';

/** Frames this large go through shared memory when a spill directory is set. */
export const SPILL_MIN_BYTES = 1 << 20;
const SPILL_MARK = 0xffffffff;
const TOKEN_BYTES = 16;
const REF_BYTES = 8 + TOKEN_BYTES;
/** A frame header is a few routing fields: anything larger is not one of ours. */
const MAX_HEADER_BYTES = 1 << 16;

interface SpillRef {
  file: string;
  size: number;
  token: Buffer;
}

/** Stubs of spilled frames (their header bytes only) and the files that hold them. */
const stubs = new WeakMap<Uint8Array, SpillRef>();

/** Whether `frame` is a stub: the header of a frame whose bytes are still in a spill file. */
export function isSpilled(frame: Uint8Array): boolean {
  return stubs.has(frame);
}

/** The length of the frame, for a stub the length of the frame it stands for. */
export function frameBytes(frame: Uint8Array): number {
  return stubs.get(frame)?.size ?? frame.byteLength;
}

/** The whole frame: a stub is read from its file (which is then removed); any other frame is returned as is. */
export function materialize(frame: Uint8Array): Uint8Array {
  const ref = stubs.get(frame);
  if (!ref) return frame;
  stubs.delete(frame);
  return readSpillFile(ref.file, ref.size, uninitialized);
}

/** Drops a frame that will not be delivered: a stub's file is removed. */
export function release(frame: Uint8Array): void {
  const ref = stubs.get(frame);
  if (!ref) return;
  stubs.delete(frame);
  fs.rmSync(ref.file, { force: true });
}

/** Writes frames to one stream: small ones inline, large ones through the spill directory when there is one. */
export class FrameWriter {
  constructor(
    private readonly out: Writable,
    private readonly spillDir: string | null = null,
  ) {}

  /** `onWritten` runs once the frame's bytes are no longer needed. A stub passes its file on to the receiver. */
  write(frame: Uint8Array, onWritten?: () => void): void {
    const ref = this.spillRef(frame);
    if (ref) this.writeRef(ref, onWritten);
    else writeFrame(this.out, materialize(frame), onWritten);
  }

  /** A frame in parts: a large one goes straight from the sender's arrays into its spill file, without joining. */
  writeParts(parts: FrameParts, onWritten?: () => void): void {
    const ref = this.spillDir && parts.byteLength >= SPILL_MIN_BYTES ? spill(this.spillDir, parts) : undefined;
    if (ref) this.writeRef(ref, onWritten);
    else writeFrame(this.out, joinFrame(parts), onWritten);
  }

  private writeRef(ref: SpillRef, onWritten?: () => void): void {
    const head = Buffer.allocUnsafe(REF_BYTES);
    head.writeUInt32LE(SPILL_MARK, 0);
    head.writeUInt32LE(ref.size, 4);
    ref.token.copy(head, 8);
    this.out.write(head);
    onWritten?.();
  }

  private spillRef(frame: Uint8Array): SpillRef | undefined {
    const stub = stubs.get(frame);
    if (stub) {
      if (!this.spillDir) return undefined; // the receiver cannot read files: send the bytes
      stubs.delete(frame);
      return stub;
    }
    if (!this.spillDir || frame.byteLength < SPILL_MIN_BYTES) return undefined;
    return spill(this.spillDir, { head: frame, segments: [], offsets: [], byteLength: frame.byteLength });
  }
}

/**
 * Spill files, once read, are kept for the next frame rather than removed:
 * tmpfs allocates (and on removal frees) every 4 KiB page of a file, which for
 * an 80 MB frame costs about as much as the copies. A reader renames the file
 * it has read to `free-<bytes>-<token>`; a writer claims one by renaming it to
 * its own token (atomic: of two writers, one gets it, the other makes a new
 * file) and overwrites it. At most FREE_MAX_FILES files and FREE_MAX_BYTES
 * bytes wait at a time (roughly: readers check without a lock); the directory
 * is emptied when the last worker process exits.
 */
export const FREE_MAX_FILES = 4;
export const FREE_MAX_BYTES = 256 << 20;
const FREE_NAME = /^free-(\d{1,15})-[0-9a-f]{32}$/;

/** Spill files waiting for reuse in `dir`, by name and size. */
function freeFiles(dir: string): { name: string; size: number }[] {
  const out: { name: string; size: number }[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = FREE_NAME.exec(name);
    if (m) out.push({ name, size: Number(m[1]) });
  }
  return out;
}

/** Keeps a read spill file for reuse when the free ones stay within bounds; removes it otherwise. */
function recycle(file: string, size: number): void {
  try {
    const dir = path.dirname(file);
    const free = freeFiles(dir);
    const bytes = free.reduce((sum, f) => sum + f.size, size);
    if (free.length < FREE_MAX_FILES && bytes <= FREE_MAX_BYTES) {
      fs.renameSync(file, path.join(dir, `free-${size}-${randomBytes(TOKEN_BYTES).toString('hex')}`));
      return;
    }
  } catch {
    /* removed below */
  }
  fs.rmSync(file, { force: true });
}

/**
 * A free spill file renamed to `file` and opened for writing, or undefined when
 * there is none to take. The best fit: the smallest that holds `bytes`, else the largest.
 */
function claimFreeFile(dir: string, file: string, bytes: number): number | undefined {
  let free: { name: string; size: number }[];
  try {
    free = freeFiles(dir);
  } catch {
    return undefined;
  }
  const fits = free.filter((f) => f.size >= bytes).sort((a, b) => a.size - b.size);
  const rest = free.filter((f) => f.size < bytes).sort((a, b) => b.size - a.size);
  for (const f of [...fits, ...rest]) {
    try {
      fs.renameSync(path.join(dir, f.name), file);
    } catch {
      continue; // another writer took it
    }
    try {
      return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
    } catch {
      fs.rmSync(file, { force: true });
      return undefined;
    }
  }
  return undefined;
}

/** Writes a frame to its own file in `dir` (a reused one when there is one); undefined (send it inline) when the file cannot be written. */
function spill(dir: string, parts: FrameParts): SpillRef | undefined {
  const token = randomBytes(TOKEN_BYTES);
  const file = path.join(dir, token.toString('hex'));
  try {
    const fd = claimFreeFile(dir, file, parts.byteLength) ?? fs.openSync(file, 'wx', 0o600);
    try {
      fs.ftruncateSync(fd, parts.byteLength);
      // Every byte is written, the padding between segments too: a reused file holds an earlier frame.
      writeAt(fd, parts.head, 0);
      let end = parts.head.byteLength;
      parts.segments.forEach((s, i) => {
        writeAt(fd, ZEROS.subarray(0, parts.offsets[i] - end), end);
        writeAt(fd, s, parts.offsets[i]);
        end = parts.offsets[i] + s.byteLength;
      });
      writeAt(fd, ZEROS.subarray(0, parts.byteLength - end), end);
    } finally {
      fs.closeSync(fd);
    }
    return { file, size: parts.byteLength, token };
  } catch {
    fs.rmSync(file, { force: true });
    return undefined;
  }
}

/** Padding: segments start 8-byte aligned. */
const ZEROS = new Uint8Array(8);

function writeAt(fd: number, bytes: Uint8Array, position: number): void {
  for (let off = 0; off < bytes.byteLength; ) off += fs.writeSync(fd, bytes, off, bytes.byteLength - off, position + off);
}

/**
 * Reads a spilled frame into a buffer from `allocate` (8-byte aligned); its file is then kept for reuse or removed.
 * Every byte of the buffer is read from the file (holes read as zeros) or the read throws,
 * so the buffer may start uninitialised.
 */
function readSpillFile(file: string, size: number, allocate: (bytes: number) => Uint8Array): Uint8Array {
  const fd = fs.openSync(file, 'r');
  let out: Uint8Array;
  try {
    const actual = fs.fstatSync(fd).size;
    if (actual !== size) throw new Error(`spilled frame ${path.basename(file)} holds ${actual} bytes, its reference says ${size}`);
    out = allocate(size);
    for (let off = 0; off < size; ) {
      const n = fs.readSync(fd, out, off, size - off, off);
      if (n === 0) throw new Error(`spilled frame ${path.basename(file)} ended at byte ${off} of ${size}`);
      off += n;
    }
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  recycle(file, size);
  return out;
}

/** The stub of a spilled frame: its u32 header length and header, read from the file, which stays. */
function readStub(file: string, size: number): Uint8Array {
  const fd = fs.openSync(file, 'r');
  try {
    const len = Buffer.alloc(4);
    if (size < 4 || fs.readSync(fd, len, 0, 4, 0) !== 4) throw new Error(`spilled frame ${path.basename(file)} has no header`);
    const hl = len.readUInt32LE(0);
    if (hl > MAX_HEADER_BYTES || 4 + hl > size) throw new Error(`spilled frame ${path.basename(file)} declares a ${hl}-byte header`);
    const stub = new Uint8Array(4 + hl);
    stub.set(len, 0);
    if (fs.readSync(fd, stub, 4, hl, 4) !== hl) throw new Error(`spilled frame ${path.basename(file)} ended inside its header`);
    return stub;
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFrame(out: Writable, frame: Uint8Array, onWritten?: () => void): void {
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32LE(frame.byteLength, 0);
  out.write(len);
  out.write(frame, onWritten && (() => onWritten()));
}

/**
 * Reusable buffers for frames the coordinator only relays from one process to
 * another: a fresh large allocation costs page faults on every message, a
 * pooled one only the copy.
 */
export class RelayBufferPool {
  private readonly free: ArrayBuffer[] = [];
  static readonly MIN_BYTES = 1 << 20;

  constructor(private readonly maxBuffers = 4) {}

  take(bytes: number): Uint8Array {
    if (bytes < RelayBufferPool.MIN_BYTES) return new Uint8Array(new ArrayBuffer(bytes));
    const i = this.free.findIndex((b) => b.byteLength >= bytes && b.byteLength <= 2 * bytes);
    const buf = i >= 0 ? this.free.splice(i, 1)[0] : new ArrayBuffer(bytes);
    return new Uint8Array(buf, 0, bytes);
  }

  give(frame: Uint8Array): void {
    if (frame.buffer.byteLength < RelayBufferPool.MIN_BYTES || !(frame.buffer instanceof ArrayBuffer)) return;
    if (this.free.length >= this.maxBuffers) this.free.shift();
    this.free.push(frame.buffer);
  }
}

export interface FrameReaderOptions {
  /** Buffers for frames read from the stream. */
  allocate?: (bytes: number) => Uint8Array;
  /** Where spilled frames are; without it a spill reference is an error. */
  spillDir?: string | null;
  /** Whether a spilled frame with this header stub is delivered as the stub (to be relayed) rather than read whole. */
  keepStub?: (stub: Uint8Array) => boolean;
  /** A spill reference that cannot be read; the stream is unusable afterwards. Throws when not given. */
  onError?: (err: Error) => void;
}

export class FrameReader {
  private head = Buffer.alloc(0);
  private body: Uint8Array | null = null;
  private filled = 0;
  private failed = false;
  private readonly allocate: (bytes: number) => Uint8Array;

  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly options: FrameReaderOptions = {},
  ) {
    this.allocate = options.allocate ?? fresh;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.failed) {
      if (this.body === null) {
        const need = (this.head.length >= 4 && this.head.readUInt32LE(0) === SPILL_MARK ? REF_BYTES : 4) - this.head.length;
        const take = Math.min(need, chunk.length - off);
        this.head = Buffer.concat([this.head, chunk.subarray(off, off + take)]);
        off += take;
        if (this.head.length < 4) return;
        const len = this.head.readUInt32LE(0);
        if (len === SPILL_MARK) {
          if (this.head.length < REF_BYTES) continue;
          const ref = this.head;
          this.head = Buffer.alloc(0);
          this.spilled(ref.readUInt32LE(4), ref.subarray(8, REF_BYTES).toString('hex'));
          continue;
        }
        this.body = this.allocate(len);
        this.filled = 0;
        this.head = Buffer.alloc(0);
      }
      const take = Math.min(this.body.length - this.filled, chunk.length - off);
      this.body.set(chunk.subarray(off, off + take), this.filled);
      this.filled += take;
      off += take;
      if (this.filled === this.body.length) {
        const frame = this.body;
        this.body = null;
        this.onFrame(frame);
      }
    }
  }

  private spilled(size: number, name: string): void {
    const { spillDir, keepStub, onError } = this.options;
    let frame: Uint8Array;
    try {
      if (!spillDir) throw new Error('a spilled frame arrived on a stream without a spill directory');
      const file = path.join(spillDir, name);
      const stub = keepStub ? readStub(file, size) : undefined;
      if (stub && keepStub!(stub)) {
        stubs.set(stub, { file, size, token: Buffer.from(name, 'hex') });
        frame = stub;
      } else {
        frame = readSpillFile(file, size, this.options.allocate ?? uninitialized);
      }
    } catch (err) {
      this.failed = true;
      if (!onError) throw err;
      onError(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.onFrame(frame);
  }
}

function fresh(bytes: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(bytes));
}

/**
 * A buffer of its own (never a slice of Node's pool) that is not zeroed first:
 * zeroing 80 MB costs about as much as reading it, and where malloc hands back
 * recycled heap memory (our worker processes, see workerMallocTunables in
 * links.ts) the memset would be the only first touch left.
 */
function uninitialized(bytes: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(bytes).buffer, 0, bytes);
}
