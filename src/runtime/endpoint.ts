// The worker's side of a DeviceLink: how a device worker sends and receives frames.
// A worker process's socket is here; a worker thread's port is in port-endpoint.ts,
// so that threads do not load the socket and shared-memory modules.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Socket } from 'node:net';
import { FrameReader, FrameWriter } from './stream-frames';
import { SPILL_DIR_ENV } from './spill-dir';
import type { FrameParts } from './frame-parts';

export interface WorkerEndpoint {
  send(frame: Uint8Array): void;
  /** A frame in parts, written out before this returns (so the parts may change afterwards); endpoints without it get joined frames. */
  sendParts?(parts: FrameParts): void;
  onFrame(cb: (frame: Uint8Array) => void): void;
  /** Flushes and releases the channel. */
  end(): Promise<void>;
}

export class SocketEndpoint implements WorkerEndpoint {
  private readonly socket: Socket;
  private readonly writer: FrameWriter;
  /** The coordinator's shared-memory directory for large frames, when it gave one. */
  private readonly spillDir = workerSpillDir();

  constructor(fd: number) {
    this.socket = new Socket({ fd, readable: true, writable: true });
    this.writer = new FrameWriter(this.socket, this.spillDir);
  }

  send(frame: Uint8Array): void {
    this.writer.write(frame);
  }

  sendParts(parts: FrameParts): void {
    this.writer.writeParts(parts);
  }

  onFrame(cb: (frame: Uint8Array) => void): void {
    const reader = new FrameReader(cb, {
      spillDir: this.spillDir,
      onError: (err) => {
        process.stderr.write(`device worker: ${err.message}\n`);
        process.exit(1);
      },
    });
    this.socket.on('data', (c: Buffer) => reader.push(c));
    // The coordinator went away: nothing left to serve.
    this.socket.on('close', () => process.exit(0));
    this.socket.on('error', () => process.exit(0));
  }

  end(): Promise<void> {
    return new Promise((resolve) => this.socket.end(resolve));
  }
}

/** The spill directory named by the coordinator: an absolute path to an existing directory, or none. */
function workerSpillDir(): string | null {
  const dir = process.env[SPILL_DIR_ENV];
  if (!dir || !path.isAbsolute(dir)) return null;
  try {
    return fs.statSync(dir).isDirectory() ? dir : null;
  } catch {
    return null;
  }
}
