// A worker thread's side of its DeviceLink: frames on a MessagePort, buffers transferred.
import type { MessagePort } from 'node:worker_threads';
import type { WorkerEndpoint } from './endpoint';

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
