// Typed errors: each carries a one-line message naming the bad value and what was expected.

/** Bad input from a user: a flag, an option, a file. The CLI prints only the message. */
export class PushInputError extends Error {
  override name = 'PushInputError';
}

/** A device worker failed: it threw, died or stopped answering. */
export class PushWorkerError extends Error {
  override name = 'PushWorkerError';
  constructor(message: string, readonly device: string, readonly workerStack?: string) {
    super(message);
  }
}

/** A handler threw inside a device worker. */
export class PushHandlerError extends Error {
  override name = 'PushHandlerError';
  constructor(
    message: string,
    readonly pid: number,
    readonly msg: string,
    readonly device: string,
    readonly workerStack?: string,
  ) {
    super(message);
    if (workerStack) this.stack = `${this.name}: ${message}\n--- in device worker ${device} ---\n${workerStack}`;
  }
}

/** A message that got no answer within its timeout. */
export class PushTimeoutError extends Error {
  override name = 'PushTimeoutError';
}

export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(v);
  }
}
