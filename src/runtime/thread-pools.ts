// The piscina pools behind thread devices (one thread each), and the threads
// started ahead of their coordinator. Kept apart from links.ts so that the CLI
// can start a run's threads (src/cli/early-start.ts) having loaded only this
// and piscina, not the process links' socket and shared-memory modules.
import * as path from 'node:path';
import { Piscina } from 'piscina';

/** Compiled worker entry points live next to this file's compiled output, in dist/workers. */
export function workerScript(name: 'thread-entry' | 'process-entry'): string {
  return path.resolve(__dirname, '..', '..', 'workers', `${name}.js`);
}

/** One thread per device, serving the device's port after its one short task, so a particle's state stays pinned to its thread. */
export function deviceThreadPool(env: Record<string, string>): Piscina {
  return new Piscina({
    filename: workerScript('thread-entry'),
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    idleTimeout: Number.MAX_SAFE_INTEGER,
    // The thread serves its port between piscina tasks: it must not block in Atomics.wait.
    atomics: 'disabled',
    env: { ...process.env, ...env },
  });
}

const prestarted: { pool: Piscina; expiry: NodeJS.Timeout }[] = [];

/**
 * Starts `count` device threads (no extra environment) before their coordinator
 * exists: each loads its modules, tfjs most of all, while this thread still
 * loads its own and prepares data. The next ThreadLinks take them; threads not
 * taken within `unusedMs` are ended.
 */
export function prestartThreads(count: number, unusedMs = 10_000): void {
  for (let i = 0; i < count; i++) {
    const entry = { pool: deviceThreadPool({}), expiry: setTimeout(() => releasePrestartedThreads(), unusedMs).unref() };
    prestarted.push(entry);
  }
}

/** Ends the prestarted threads no link has taken (after a run failed before its workers started). */
export function releasePrestartedThreads(): void {
  for (const { pool, expiry } of prestarted.splice(0)) {
    clearTimeout(expiry);
    pool.destroy().catch(() => undefined);
  }
}

export function takePrestartedPool(): Piscina | undefined {
  const entry = prestarted.shift();
  if (entry) clearTimeout(entry.expiry);
  return entry?.pool;
}

/** Prestarted threads not yet taken (for tests). */
export function prestartedThreadCount(): number {
  return prestarted.length;
}
