// Frame headers exchanged between the coordinator and device workers.
// Every frame goes through the coordinator, which routes on the header alone.

/** Where a frame goes: a device index, or the coordinator. */
export const COORDINATOR = -1;
/** `to` value meaning "the device that holds header.pid" (the coordinator resolves it). */
export const BY_PID = -2;
/** `pid` of a call to a device itself (PushDist.callDevice): its handler acts on the device's particles. */
export const DEVICE_CALL = -1;

export type ControlOp = 'init' | 'create' | 'roster' | 'params' | 'setParams' | 'stats' | 'close'
  /** For worker hosts only (src/runtime/nats): where the other remote devices' sessions are, for direct frames. */
  | 'peers';

export type Header =
  /** Run handler `msg` on particle `pid` (DEVICE_CALL: on the device); body: the argument list. */
  | { k: 'call'; id: string; from: number; to: number; pid: number; msg: string; timeoutMs?: number }
  /** A copy of particle `pid`'s parameters and gradients; no body. */
  | { k: 'get'; id: string; from: number; to: number; pid: number }
  /** A coordinator instruction to one device; body: its arguments. */
  | { k: 'ctl'; id: string; from: number; to: number; op: ControlOp }
  /** The answer to `id`; body: the value, or a SerializedError when ok is false. */
  | { k: 'reply'; id: string; from: number; to: number; ok: boolean }
  /** A one-way notice from a worker (log lines); body: the text. */
  | { k: 'log'; id: string; from: number; to: number }
  /** A one-way event from a handler (p.emit) for PushDist.onEvent listeners; body: its value. */
  | { k: 'event'; id: string; from: number; to: number; name: string };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  pid?: number;
  msg?: string;
  device?: string;
}

export function serializeError(err: unknown, extra: Partial<SerializedError> = {}): SerializedError {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message, stack: e.stack, ...extra };
}
