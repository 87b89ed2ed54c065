// Ctrl-C (SIGINT) and SIGTERM: the first signal aborts the running command
// (it stops at the next step or epoch boundary, closes its PushDist so the
// device workers end, and leaves the last complete checkpoint as it was) and
// says so at once; if that takes longer than the grace period, or a second
// signal arrives, every device worker process still alive is sent SIGKILL (a
// stopped or busy one cannot react to anything else), cleanups run, and the
// process exits at once. Exit code 128 + signal number: 130 for SIGINT, 143
// for SIGTERM.

import { removePendingTemps } from './output';
import { killWorkerProcesses } from '../runtime/worker-processes';

export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
export type HandledSignal = keyof typeof SIGNAL_EXIT_CODES;

/** Thrown (or recognised) when a command stopped because of a signal. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(
    readonly signal: HandledSignal,
    readonly hint?: string,
  ) {
    super(`interrupted by ${signal}${hint ? `: ${hint}` : ''}`);
  }
}

type Cleanup = () => void | Promise<void>;

let interruptReported = false;
/** Interrupts instances currently installed: while one is, it handles the signals. */
let activeInterrupts = 0;

/**
 * Installed at start-up: a signal that arrives while no command has its own handling
 * (parsing flags, loading data) exits at once with 130 / 143, after `cleanup`. It also
 * makes the signals work when the process started with them ignored (a background job).
 */
export function installBaseSignalHandlers(cleanup: () => void): void {
  for (const sig of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) {
    process.on(sig, () => {
      if (activeInterrupts > 0) return;
      cleanup();
      reportInterruptOnce(`push-ens: interrupted by ${sig}`);
      killWorkerProcesses();
      process.exit(SIGNAL_EXIT_CODES[sig]);
    });
  }
}

/** What the first signal prints at once, before the run has stopped. */
export function stoppingNote(sig: HandledSignal): string {
  return `stopping after this step... (${sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again to stop now)`;
}

/** Prints the interruption line once, whichever path (forced exit or the command unwinding) gets there first. */
export function reportInterruptOnce(line: string): void {
  if (interruptReported) return;
  interruptReported = true;
  process.stderr.write(line + '\n');
}

export class Interrupts {
  readonly controller = new AbortController();
  private signalName?: HandledSignal;
  private readonly cleanups = new Set<Cleanup>();
  private readonly listeners: [HandledSignal, () => void][] = [];
  private forced = false;

  /**
   * @param graceMs time the command gets to stop by itself after the first signal (0: exit at once)
   * @param onForcedExit last words before a forced exit (after the cleanups)
   * @param onFirstSignal runs at once on the first signal, e.g. to say the command is stopping
   */
  constructor(
    private readonly graceMs = 8000,
    private readonly onForcedExit: (signal: HandledSignal) => void = () => undefined,
    private readonly onFirstSignal: (signal: HandledSignal) => void = () => undefined,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The signal received, if any. */
  get received(): HandledSignal | undefined {
    return this.signalName;
  }

  install(): this {
    activeInterrupts++;
    for (const sig of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) {
      const fn = () => this.handle(sig);
      process.on(sig, fn);
      this.listeners.push([sig, fn]);
    }
    return this;
  }

  uninstall(): void {
    if (this.listeners.length > 0) activeInterrupts--;
    for (const [sig, fn] of this.listeners) process.off(sig, fn);
    this.listeners.length = 0;
  }

  /** Runs on a forced exit (grace period over or second signal), e.g. closing a PushDist. */
  onCleanup(fn: Cleanup): () => void {
    this.cleanups.add(fn);
    return () => this.cleanups.delete(fn);
  }

  /** Throws InterruptedError if a signal arrived: call at safe points. */
  throwIfInterrupted(): void {
    if (this.signalName) throw new InterruptedError(this.signalName);
  }

  private handle(sig: HandledSignal): void {
    if (this.signalName) {
      void this.forceExit(this.signalName);
      return;
    }
    this.signalName = sig;
    if (this.graceMs > 0) this.onFirstSignal(sig);
    this.controller.abort(new InterruptedError(sig));
    setTimeout(() => void this.forceExit(sig), this.graceMs).unref();
  }

  /** Kills the worker processes still alive, runs the cleanups (each bounded in time) and exits with the signal's code. */
  async forceExit(sig: HandledSignal): Promise<void> {
    if (this.forced) return;
    this.forced = true;
    // Stopping now: no device worker is waited for (a busy one would take the close grace
    // period, a stopped one cannot answer at all). Checkpoints are written by this process.
    killWorkerProcesses();
    await Promise.race([
      Promise.allSettled([...this.cleanups].map(async (fn) => fn())),
      new Promise((r) => setTimeout(r, 3000).unref()),
    ]);
    removePendingTemps();
    this.onForcedExit(sig);
    // Synchronous, right before exit (process.exit's own hook does it too): none outlives the command.
    killWorkerProcesses();
    process.exit(SIGNAL_EXIT_CODES[sig]);
  }
}
