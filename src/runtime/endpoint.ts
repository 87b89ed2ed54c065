// The worker's side of a DeviceLink: how a device worker sends and receives frames.
import type { MessagePort } from 'node:worker_threads';
import { Socket } from 'node:net';
import { FrameReader, writeFrame } from './stream-frames';

export interface WorkerEndpoint {
  send(frame: Uint8Array): void;
  onFrame(cb: (frame: Uint8Array) => void): void;
  /** Flushes and releases the channel. */
  end(): Promise<void>;
}

export class PortEndpoint implements WorkerEndpoint {
  constructor(private readonly port: MessagePort) {}

  send(frame: Uint8Array): void {
    const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
    const out = whole ? frame : frame.slice();
    this.port.postMessage(out, [out.buffer as ArrayBuffer]);
  }

  onFrame(cb: (frame: Uint8Array) => void): void {
    this.port.on('message', cb);
  }

  async end(): Promise<void> {
    this.port.close();
  }
}

export class SocketEndpoint implements WorkerEndpoint {
  private readonly socket: Socket;

  constructor(fd: number) {
    this.socket = new Socket({ fd, readable: true, writable: true });
  }

  send(frame: Uint8Array): void {
    writeFrame(this.socket, frame);
  }

  onFrame(cb: (frame: Uint8Array) => void): void {
    const reader = new FrameReader(cb);
    this.socket.on('data', (c: Buffer) => reader.push(c));
    // The coordinator went away: nothing left to serve.
    this.socket.on('close', () => process.exit(0));
    this.socket.on('error', () => process.exit(0));
  }

  end(): Promise<void> {
    return new Promise((resolve) => this.socket.end(resolve));
  }
}
