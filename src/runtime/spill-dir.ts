// Where large frames between the coordinator and its worker processes go: a
// private directory in /dev/shm (memory, not disk). A socket pair carries a
// frame in 200 KB slices, each copied through the kernel, and a relayed frame
// crosses two of them; writing the frame into a shared-memory file and reading
// it back costs one copy each way and lets the coordinator relay a 24-byte
// reference instead of the bytes (src/runtime/stream-frames.ts).
//
// One directory per coordinator process, made on first use (mode 0700) and
// removed when the process exits. Receivers pass each file once read on for
// reuse (at most a few, see FREE_MAX_FILES in stream-frames.ts) or unlink it;
// those and what a dead worker never read are removed when the last process
// link closes. A
// coordinator killed with SIGKILL leaves its directory behind: the next
// coordinator removes directories whose owner process is gone.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Environment variable naming the directory for a worker process (set by the coordinator). */
export const SPILL_DIR_ENV = 'PUSH_ENS_SPILL_DIR';

const SHM = '/dev/shm';
const PREFIX = 'push-ens-';

let dir: string | null | undefined;

/**
 * This coordinator's spill directory, made on first call; null where there is
 * no writable /dev/shm (frames then stream through the socket) or when
 * PUSH_ENS_SPILL=0 turns it off.
 */
export function coordinatorSpillDir(): string | null {
  if (dir !== undefined) return dir;
  dir = null;
  if (process.env.PUSH_ENS_SPILL === '0') return dir;
  try {
    if (!fs.statSync(SHM).isDirectory()) return dir;
    removeStaleDirs();
    dir = fs.mkdtempSync(path.join(SHM, `${PREFIX}${process.pid}-`));
    process.on('exit', () => fs.rmSync(dir!, { recursive: true, force: true }));
  } catch {
    dir = null;
  }
  return dir;
}

/** Removes every file left in this process's spill directory (no frame is in flight). */
export function clearSpillDir(): void {
  if (!dir) return;
  try {
    for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { force: true });
  } catch {
    /* already gone */
  }
}

/** Spill directories of coordinators that no longer run (killed with SIGKILL). */
function removeStaleDirs(): void {
  for (const name of fs.readdirSync(SHM)) {
    const m = /^push-ens-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    try {
      fs.rmSync(path.join(SHM, name), { recursive: true, force: true });
    } catch {
      /* not ours to remove */
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process: leave its directory alone
  }
}
