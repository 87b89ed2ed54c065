// The NATS message that carries a frame, or a piece of one. A frame larger
// than the server's max_payload travels as several chunks; every chunk names
// its frame's length and chunk count, its own index and the CRC-32 of its own
// data, so the receiver can reassemble the frame and check every piece as it
// arrives (checksums per chunk overlap with the wait for the next ones, where
// one over the whole frame would stall both ends). Chunks are numbered once per direction of a session
// (`n`), and every message carries the sender's cumulative acknowledgement of
// the other direction (`ack`): that numbering is what flow control and
// retransmission after a server failover rest on (channel.ts).
//
//   0 u8 magic 0x50 | 1 u8 type | 2 u16 protocol | 4 u32 chunk index |
//   8 f64 n | 16 f64 ack | 24 u32 chunk count | 28 u32 frame length |
//   32 u32 CRC-32 of the chunk's data | 36 u32 reserved | 40 data
import * as zlib from 'node:zlib';
import { NATS_PROTOCOL } from './protocol';

export const CHUNK_HEADER_BYTES = 40;
const MAGIC = 0x50;

export const enum ChunkType {
  /** A piece of a frame. */
  Data = 1,
  /** No frame: an acknowledgement and a sign of life. */
  Beat = 2,
  /** The sender ends the session; data: JSON { reason, kill }. */
  Bye = 3,
}

export interface ChunkHeader {
  type: ChunkType;
  protocol: number;
  index: number;
  n: number;
  ack: number;
  count: number;
  frameLength: number;
  crc: number;
}

export function writeChunkHeader(buf: Uint8Array, h: ChunkHeader): void {
  const v = new DataView(buf.buffer, buf.byteOffset, CHUNK_HEADER_BYTES);
  v.setUint8(0, MAGIC);
  v.setUint8(1, h.type);
  v.setUint16(2, h.protocol, true);
  v.setUint32(4, h.index, true);
  v.setFloat64(8, h.n, true);
  v.setFloat64(16, h.ack, true);
  v.setUint32(24, h.count, true);
  v.setUint32(28, h.frameLength, true);
  v.setUint32(32, h.crc, true);
  v.setUint32(36, 0, true);
}

/** Reads a chunk header; undefined when the message is not one (bad magic, type or numbers). */
export function readChunkHeader(msg: Uint8Array): ChunkHeader | undefined {
  if (msg.byteLength < CHUNK_HEADER_BYTES) return undefined;
  const v = new DataView(msg.buffer, msg.byteOffset, CHUNK_HEADER_BYTES);
  if (v.getUint8(0) !== MAGIC) return undefined;
  const type = v.getUint8(1);
  if (type !== ChunkType.Data && type !== ChunkType.Beat && type !== ChunkType.Bye) return undefined;
  const n = v.getFloat64(8, true);
  const ack = v.getFloat64(16, true);
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(ack) || ack < 0) return undefined;
  return {
    type,
    protocol: v.getUint16(2, true),
    index: v.getUint32(4, true),
    n,
    ack,
    count: v.getUint32(24, true),
    frameLength: v.getUint32(28, true),
    crc: v.getUint32(32, true),
  };
}

export function chunkCrc(data: Uint8Array): number {
  return zlib.crc32(data) >>> 0;
}

/** A header-only message (a beat), or a bye with its JSON reason. */
export function controlChunk(type: ChunkType.Beat | ChunkType.Bye, ack: number, body?: Uint8Array): Uint8Array {
  const msg = new Uint8Array(CHUNK_HEADER_BYTES + (body?.byteLength ?? 0));
  writeChunkHeader(msg, { type, protocol: NATS_PROTOCOL, index: 0, n: 0, ack, count: 0, frameLength: 0, crc: 0 });
  if (body) msg.set(body, CHUNK_HEADER_BYTES);
  return msg;
}
