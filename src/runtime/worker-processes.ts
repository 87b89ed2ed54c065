// Every device worker process this process started and that has not exited
// yet, so that none outlives it: a forced exit (a second Ctrl-C, the grace
// period over) and any process.exit() SIGKILL them first, synchronously. A
// stopped worker (SIGSTOP) cannot react to its socket closing, and a busy one
// reacts only after its handler returns; SIGKILL ends both. (A coordinator that
// is itself SIGKILLed runs no code: the workers' watchdog covers that case, see
// workers/process-entry.ts.) No dependencies, so the CLI can load it at start-up.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Environment variable naming the coordinator's pid for the worker's watchdog. */
export const COORDINATOR_PID_ENV = 'PUSH_ENS_COORDINATOR_PID';

/** Registers a worker process until it exits. */
export function trackWorkerProcess(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => killWorkerProcesses());
  }
}

/** Sends SIGKILL to every worker process still running; returns how many were signalled. */
export function killWorkerProcesses(): number {
  let n = 0;
  for (const child of live) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    try {
      if (child.kill('SIGKILL')) n++;
    } catch {
      /* already gone */
    }
  }
  return n;
}

/** Process ids of the worker processes still running (for tests and diagnostics). */
export function workerProcessPids(): number[] {
  return [...live].flatMap((c) => (c.pid !== undefined && c.exitCode === null && c.signalCode === null ? [c.pid] : []));
}
