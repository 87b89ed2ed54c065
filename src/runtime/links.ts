// A DeviceLink carries frames between the coordinator and one device worker,
// and reports the worker's death. Two kinds: a worker thread (piscina pool of
// one thread, frames over a MessagePort, buffers transferred, not copied) and a
// child process (frames over a socket pair on fd 3, length-prefixed; large
// frames through shared memory, see stream-frames.ts).
import { ChildProcess, spawn } from 'node:child_process';
import { MessageChannel, MessagePort } from 'node:worker_threads';
import { Socket } from 'node:net';
import type { Piscina } from 'piscina';
import { deviceThreadPool, takePrestartedPool, workerScript } from './thread-pools';
import { FrameReader, FrameWriter, RelayBufferPool, release } from './stream-frames';
import { COORDINATOR_PID_ENV, trackWorkerProcess } from './worker-processes';
import { SPILL_DIR_ENV, clearSpillDir, coordinatorSpillDir } from './spill-dir';

// The prestart API lives with the pools (thread-pools.ts), which the CLI loads before this module.
export { prestartThreads, prestartedThreadCount, releasePrestartedThreads } from './thread-pools';

export interface DeviceLink {
  /** 'nats': a device of a worker host on another machine (src/runtime/nats/link.ts). */
  readonly kind: 'thread' | 'process' | 'nats';
  /** Sends a frame; `onWritten` runs once the frame's bytes are no longer needed (process links only). */
  send(frame: Uint8Array, onWritten?: () => void): void;
  onFrame(cb: (frame: Uint8Array) => void): void;
  /** Called once, when the worker is gone for any reason other than close(). */
  onDeath(cb: (reason: string) => void): void;
  /** Ends the worker; resolves once it is gone (forcibly after graceMs). */
  close(graceMs?: number): Promise<void>;
  /**
   * Ends the worker at once, whatever it is doing (SIGKILL for a process, which also ends
   * a stopped one; terminate for a thread), without reporting a death: for a worker that
   * stopped answering. close() afterwards only waits for it to be gone.
   */
  kill(): void;
  /** Whether the worker keeps this process alive: while a request is pending, and not while it is idle. */
  hold(busy: boolean): void;
  /** OS process id for process links. */
  readonly pid?: number;
}

abstract class BaseLink {
  protected frameCb: (f: Uint8Array) => void = () => {};
  private deathCb: (reason: string) => void = () => {};
  protected closing = false;
  protected dead = false;

  onFrame(cb: (frame: Uint8Array) => void): void {
    this.frameCb = cb;
  }

  onDeath(cb: (reason: string) => void): void {
    this.deathCb = cb;
  }

  protected died(reason: string): void {
    if (this.dead || this.closing) return;
    this.dead = true;
    this.deathCb(reason);
  }
}

export class ThreadLink extends BaseLink implements DeviceLink {
  readonly kind = 'thread' as const;
  private readonly pool: Piscina;
  private readonly port: MessagePort;
  /** Settles when the device closed its end of the port: it finished (after close) or its thread is gone. */
  private readonly portClosed: Promise<void>;

  constructor(env: Record<string, string> = {}) {
    super();
    this.pool = (Object.keys(env).length === 0 && takePrestartedPool()) || deviceThreadPool(env);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    port1.on('message', (data: Uint8Array) => this.frameCb(data));
    this.portClosed = new Promise((resolve) => port1.once('close', resolve));
    port1.on('close', () => this.died('its thread exited'));
    // The task returns once the device is wired to port2; only its failure means anything.
    this.pool.run({ port: port2 }, { transferList: [port2] as never }).catch((err: unknown) => this.died(`its thread died: ${err instanceof Error ? err.message : String(err)}`));
    this.pool.on('error', (err: unknown) => this.died(`its thread failed: ${err instanceof Error ? err.message : String(err)}`));
  }

  send(frame: Uint8Array): void {
    const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
    const out = whole ? frame : frame.slice();
    this.port.postMessage(out, [out.buffer as ArrayBuffer]);
  }

  kill(): void {
    this.dead = true;
    this.port.close();
    void this.pool.destroy().catch(() => undefined);
  }

  hold(busy: boolean): void {
    if (busy) this.port.ref();
    else this.port.unref();
  }

  async close(graceMs = 2000): Promise<void> {
    this.closing = true;
    if (this.dead) graceMs = 0;
    this.hold(true); // the wait for the thread to end must keep the process alive
    await Promise.race([this.portClosed, sleep(graceMs)]);
    this.port.close();
    await this.pool.destroy().catch(() => undefined);
  }
}

export class ProcessLink extends BaseLink implements DeviceLink {
  readonly kind = 'process' as const;
  private readonly child: ChildProcess;
  private readonly socket: Socket;
  private readonly writer: FrameWriter;
  private readonly exited: Promise<void>;

  /**
   * `relayed(header)` says whether a frame is for another device: a large one is then relayed
   * as its spill reference, while one for the coordinator is read whole.
   */
  constructor(env: Record<string, string> = {}, pool?: RelayBufferPool, relayed?: (headerStub: Uint8Array) => boolean) {
    super();
    const spillDir = coordinatorSpillDir();
    this.child = spawn(process.execPath, [workerScript('process-entry')], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
      env: {
        ...process.env,
        GLIBC_TUNABLES: workerMallocTunables(process.env.GLIBC_TUNABLES),
        [COORDINATOR_PID_ENV]: String(process.pid),
        ...(spillDir ? { [SPILL_DIR_ENV]: spillDir } : {}),
        ...env,
      },
    });
    trackWorkerProcess(this.child);
    liveProcessLinks++;
    this.socket = this.child.stdio[3] as Socket;
    this.writer = new FrameWriter(this.socket, spillDir);
    const reader = new FrameReader((f) => this.frameCb(f), {
      allocate: pool && ((n) => pool.take(n)),
      spillDir,
      keepStub: relayed,
      onError: (err) => {
        this.died(`it sent a frame that could not be read (${err.message})`);
        if (this.running) this.child.kill('SIGKILL');
      },
    });
    this.socket.on('data', (chunk: Buffer) => reader.push(chunk));
    this.socket.on('error', () => undefined); // death is reported by 'exit'
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.died(signal ? `its process was killed by ${signal}` : `its process exited with code ${code}`);
        resolve();
      });
      this.child.once('error', (err) => {
        this.died(`its process could not start: ${err.message}`);
        resolve();
      });
    });
    // Files a dead worker never read go once no worker process is left to read any.
    void this.exited.then(() => {
      if (--liveProcessLinks === 0) clearSpillDir();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(frame: Uint8Array, onWritten?: () => void): void {
    if (!this.socket.destroyed) this.writer.write(frame, onWritten);
    else release(frame);
  }

  hold(busy: boolean): void {
    if (busy) {
      this.child.ref();
      this.socket.ref();
    } else {
      this.child.unref();
      this.socket.unref();
    }
  }

  private get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(): void {
    this.dead = true;
    if (this.running) this.child.kill('SIGKILL');
  }

  /** Waits up to graceMs for the process to exit, then SIGKILLs it (which ends a stopped process too). */
  async close(graceMs = 2000): Promise<void> {
    this.closing = true;
    this.hold(true); // the wait for the process to end must keep this one alive
    if (this.running) {
      if (graceMs <= 0) this.child.kill('SIGKILL');
      const timer = graceMs > 0 ? setTimeout(() => this.child.kill('SIGKILL'), graceMs) : undefined;
      await this.exited;
      clearTimeout(timer);
    }
    this.socket.destroy();
  }
}

/** Process links whose worker has not exited yet. */
let liveProcessLinks = 0;

/**
 * Large message buffers are fresh allocations, and on VMs where first-touch page
 * faults are slow (about 3 ms per MB on these machines) the faults, not the
 * copies, dominate. Transparent huge pages for glibc's malloc cut them ~10x.
 */
export function withHugePages(tunables: string | undefined): string {
  return withTunables(tunables, { 'glibc.malloc.hugetlb': '1' });
}

/** Largest block glibc's malloc serves from its heap in our worker processes, and the free heap top it keeps. */
export const WORKER_HEAP_BLOCK_BYTES = 256 << 20;

/**
 * The malloc settings of our worker processes. Besides huge pages: a received
 * frame (80 MB for a p.get of 40 MB of parameters) is a new buffer every time,
 * since the handler keeps views of it. By default glibc maps each block over
 * 32 MiB afresh and unmaps it when freed, so every receive faults in (and the
 * kernel zeroes) new pages, which costs more than the copy. With a higher mmap
 * threshold and trim threshold, freed blocks up to 256 MiB stay in the heap and
 * the next frame reuses their pages: a worker keeps up to that much freed
 * memory instead of returning it to the system. Values the caller set win.
 */
export function workerMallocTunables(tunables: string | undefined): string {
  const heap = String(WORKER_HEAP_BLOCK_BYTES);
  return withTunables(tunables, {
    'glibc.malloc.hugetlb': '1',
    'glibc.malloc.mmap_threshold': heap,
    'glibc.malloc.trim_threshold': heap,
  });
}

function withTunables(tunables: string | undefined, add: Record<string, string>): string {
  const given = tunables ? tunables.split(':').filter((t) => t !== '') : [];
  const names = new Set(given.map((t) => t.split('=')[0]));
  const extra = Object.entries(add)
    .filter(([name]) => !names.has(name))
    .map(([name, value]) => `${name}=${value}`);
  return [...given, ...extra].join(':');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
