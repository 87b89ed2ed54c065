// Length-prefixed frames over a byte stream (the socket between the
// coordinator and a child process). Each frame is reassembled into its own
// 8-byte-aligned buffer, so decodeBody can hand out zero-copy typed views.
import type { Writable } from 'node:stream';

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

export class FrameReader {
  private head = Buffer.alloc(0);
  private body: Uint8Array | null = null;
  private filled = 0;

  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly allocate: (bytes: number) => Uint8Array = (n) => new Uint8Array(new ArrayBuffer(n)),
  ) {}

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.body === null) {
        const need = 4 - this.head.length;
        const take = Math.min(need, chunk.length - off);
        this.head = Buffer.concat([this.head, chunk.subarray(off, off + take)]);
        off += take;
        if (this.head.length < 4) return;
        this.body = this.allocate(this.head.readUInt32LE(0));
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
}
