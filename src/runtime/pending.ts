// Futures waiting for replies, keyed by message id, each with an error path:
// a per-message timeout, and rejection when the device it waits on dies.
import { PushTimeoutError } from '../util/errors';

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
  device: number; // the device whose answer this waits for
  timer?: NodeJS.Timeout;
}

export class PendingReplies {
  private readonly waiters = new Map<string, Waiter>();
  private counter = 0;

  /** `onBusy` hears when the first waiter arrives (true) and the last one leaves (false). */
  constructor(
    private readonly prefix: string,
    private readonly onBusy: (busy: boolean) => void = () => {},
  ) {}

  nextId(): string {
    return `${this.prefix}:${++this.counter}`;
  }

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Registers a waiter; `describe` names the message for the timeout error. `onTimeout`
   * runs right after the waiter is rejected with that error (the coordinator then treats
   * the silent device as dead).
   */
  wait<T>(id: string, device: number, timeoutMs: number | undefined, describe: () => string, onTimeout?: (err: PushTimeoutError) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = { resolve: resolve as (v: unknown) => void, reject, device };
      if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        w.timer = setTimeout(() => {
          this.remove(id);
          const err = new PushTimeoutError(`${describe()} got no answer within ${timeoutMs} ms`);
          reject(err);
          onTimeout?.(err);
        }, timeoutMs);
      }
      this.waiters.set(id, w);
      if (this.waiters.size === 1) this.onBusy(true);
    });
  }

  private remove(id: string): void {
    if (this.waiters.delete(id) && this.waiters.size === 0) this.onBusy(false);
  }

  settle(id: string, ok: boolean, value: unknown): boolean {
    const w = this.waiters.get(id);
    if (!w) return false;
    this.remove(id);
    if (w.timer) clearTimeout(w.timer);
    if (ok) w.resolve(value);
    else w.reject(value as Error);
    return true;
  }

  /** Rejects every waiter on `device` (or all when device is undefined). */
  rejectDevice(device: number | undefined, makeError: () => Error): void {
    for (const [id, w] of this.waiters) {
      if (device === undefined || w.device === device) this.settle(id, false, makeError());
    }
  }
}
