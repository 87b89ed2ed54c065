// One writer per checkpoint directory. The lock is a file inside the directory,
// DIR/.push-ens.lock, holding JSON {pid, host, startedAt, processStart, token}.
// It is created whole with link() (a complete temporary file linked to the lock
// name fails with EEXIST if the lock exists), so no reader ever sees a half
// written lock. A lock is stale when its process is gone: on the same host, the
// pid is not alive (or a zombie), or it is alive but started at another time than
// the lock records (the pid was reused); or when it was copied with its directory
// (it records the directory's device and inode). A stale lock is taken over by renaming
// it to a unique name, checking that the renamed file is the stale lock that was
// read (else putting it back), deleting it and creating a new lock.
//
// Residual race, documented: if two runs take over the same stale lock at the same
// moment and a third process renames the winner's fresh lock aside before the
// check, the winner's lock file can end up replaced. Every save checks that the
// lock file still holds this run's token just before it commits, so the run that
// lost its lock stops with a one-line error instead of writing over the other.
//
// Locks are reentrant within a process (training holds the lock for the whole
// run; each save takes it again) and released when the last holder releases it,
// or when the process exits. A directory created to hold the lock is removed on
// release if nothing else was put in it.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PushInputError } from '../util/errors';
import { readRegularText } from '../util/safe-read';

export const LOCK_FILE = '.push-ens.lock';
/** Temporary names of a lock being created (`.push-ens.lock.<pid>-<rand>`) or a stale lock taken aside (`.push-ens.lock.stale-<pid>-<rand>`). */
export const LOCK_TEMP = /^\.push-ens\.lock\.(?:stale-)?(\d+)-[0-9a-f]+$/;
const LOCK_MAX_BYTES = 4096;

interface LockRecord {
  pid: number;
  host: string;
  startedAt: string;
  processStart?: string;
  /** device:inode of the directory: a lock copied along with a directory (cp -r) does not lock the copy. */
  dirId?: string;
  token: string;
}

interface Held {
  target: string;
  shown: string;
  lockPath: string;
  /** The lock file's exact text while we hold it. */
  text: string;
  count: number;
  /** False when another module instance of this same process created the lock (it releases it). */
  owned: boolean;
  /** The first directory mkdir created for the lock; removed on release when empty. */
  createdRoot?: string;
}

const held = new Map<string, Held>();
let exitHookInstalled = false;

export interface CheckpointLock {
  readonly dir: string;
  /** Throws a one-line PushInputError if the lock file no longer holds this process's lock. */
  verify(): void;
  /** Releases one hold; the last one removes the lock file. Safe to call twice. */
  release(): void;
}

/** /proc/<pid>/stat field 22, the process start time in clock ticks since boot (Linux); undefined elsewhere. */
export function processStartOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True while a process with this pid exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: kill(0) answered
  }
}

function keyOf(target: string): string {
  try {
    return fs.realpathSync(target);
  } catch {
    return target;
  }
}

/** A time as 2026-12-02T00:31:07Z. */
function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function readLock(lockPath: string): string | undefined {
  try {
    return readRegularText(lockPath, { maxBytes: LOCK_MAX_BYTES, what: lockPath });
  } catch (err) {
    try {
      fs.lstatSync(lockPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    }
    throw err;
  }
}

function parseLock(text: string): LockRecord | undefined {
  try {
    const r = JSON.parse(text) as LockRecord;
    if (r && Number.isSafeInteger(r.pid) && typeof r.host === 'string' && typeof r.startedAt === 'string' && typeof r.token === 'string') return r;
  } catch {
    /* fall through */
  }
  return undefined;
}

type Holder = 'live' | 'stale' | 'self';

function dirIdOf(target: string): string | undefined {
  try {
    const st = fs.statSync(target, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function holderOf(r: LockRecord, target: string): Holder {
  if (r.dirId !== undefined && r.dirId !== dirIdOf(target)) return 'stale'; // copied from another directory
  if (r.host !== os.hostname()) return 'live'; // another machine: its processes cannot be checked from here
  if (r.pid === process.pid) return r.processStart === undefined || r.processStart === processStartOf(process.pid) ? 'self' : 'stale';
  if (!pidAlive(r.pid)) return 'stale';
  const start = processStartOf(r.pid);
  if (start !== undefined && r.processStart !== undefined && start !== r.processStart) return 'stale';
  return 'live';
}

function lockedError(shown: string, r: LockRecord, lockPath: string): PushInputError {
  const host = r.host !== os.hostname() ? ` on host ${r.host}` : '';
  const remedy = host ? ` (if it is not, remove ${lockPath})` : '';
  return new PushInputError(`checkpoint ${shown} is locked by pid ${r.pid}${host} (started ${r.startedAt}): another run is writing it${remedy}`);
}

/** Taking a lock failed on the file system (no space, permissions...); `detail` says what and where. */
export class CheckpointIoError extends Error {
  override name = 'CheckpointIoError';
  constructor(
    message: string,
    readonly detail: string,
  ) {
    super(message);
  }
}

function ioError(shown: string, err: unknown, action: string, file: string): Error {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e.code !== 'string') return err as Error;
  const detail = `${errnoText(e)} (${action} ${file})`;
  return new CheckpointIoError(`could not lock checkpoint ${shown}: ${detail}`, detail);
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOTEMPTY: 'a directory is in the way',
  EEXIST: 'the file already exists',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  EFBIG: 'file too large',
  ELOOP: 'a symlink is in the way',
  ENOENT: 'no such file or directory',
};

/** "no space left on device" for ENOSPC, and so on; the code itself for others. */
export function errnoText(e: NodeJS.ErrnoException): string {
  return ERRNO_TEXT[e.code ?? ''] ?? e.code ?? e.message.split('\n')[0];
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const h of [...held.values()]) finalRelease(h);
    held.clear();
  });
}

function finalRelease(h: Held): void {
  if (h.owned) {
    try {
      if (readLock(h.lockPath) === h.text) fs.unlinkSync(h.lockPath);
    } catch {
      /* the lock is someone else's now, or gone */
    }
  }
  if (h.createdRoot) {
    // Remove the directories made for the lock, innermost first, while they are empty.
    for (let d = h.target; ; d = path.dirname(d)) {
      try {
        fs.rmdirSync(d);
      } catch {
        break;
      }
      if (d === h.createdRoot || path.dirname(d) === d) break;
    }
  }
}

function handleOf(key: string, h: Held): CheckpointLock {
  let released = false;
  return {
    dir: h.shown,
    verify() {
      let text: string | undefined;
      try {
        text = readLock(h.lockPath);
      } catch {
        text = undefined;
      }
      if (text === h.text) return;
      const r = text !== undefined ? parseLock(text) : undefined;
      if (r) throw lockedError(h.shown, r, h.lockPath);
      throw new PushInputError(`checkpoint ${h.shown}: this run's lock ${h.lockPath} was removed: another run may be writing it`);
    },
    release() {
      if (released) return;
      released = true;
      if (--h.count > 0) return;
      held.delete(key);
      finalRelease(h);
    },
  };
}

/** Creates the lock file whole (link of a complete temporary file); false if a lock exists. */
function createLock(target: string, lockPath: string, text: string, shown: string): boolean {
  const tmp = path.join(target, `.push-ens.lock.${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw ioError(shown, err, 'creating', path.join(shown, path.basename(tmp)));
  }
  try {
    fs.linkSync(tmp, lockPath);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw ioError(shown, err, 'creating', path.join(shown, LOCK_FILE));
    // A file system without hard links: exclusive create (a reader may briefly see it empty).
    try {
      fs.writeFileSync(lockPath, text, { flag: 'wx', mode: 0o644 });
      return true;
    } catch (err2) {
      if ((err2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw ioError(shown, err2, 'creating', path.join(shown, LOCK_FILE));
    }
  } finally {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* gone */
    }
  }
}

/** Moves a stale lock out of the way; a lock that changed since it was read is put back. */
function takeOver(target: string, lockPath: string, staleText: string): void {
  const aside = path.join(target, `.push-ens.lock.stale-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    fs.renameSync(lockPath, aside);
  } catch {
    return; // gone already: the caller tries again
  }
  let moved: string | undefined;
  try {
    moved = readLock(aside);
  } catch {
    moved = undefined;
  }
  if (moved !== staleText) {
    // Someone replaced the stale lock between our read and our rename: give theirs back.
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      /* a third run took the lock meanwhile: see the residual race above */
    }
  }
  try {
    fs.unlinkSync(aside);
  } catch {
    /* gone */
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The holder of dir's lock when it is a live process other than this one, else undefined. */
function liveHolder(target: string, lockPath: string): LockRecord | undefined {
  let text: string | undefined;
  try {
    text = readLock(lockPath);
  } catch {
    return undefined;
  }
  const r = text !== undefined ? parseLock(text) : undefined;
  return r && holderOf(r, target) === 'live' ? r : undefined;
}

/** Fails with the one-line "locked by pid ..." error when another live process holds dir's lock. Reads only. */
export function checkCheckpointUnlocked(dir: string): void {
  const target = path.resolve(dir);
  const lockPath = path.join(target, LOCK_FILE);
  const r = liveHolder(target, lockPath);
  if (r) throw lockedError(dir, r, lockPath);
}

/**
 * Takes the exclusive lock of checkpoint directory `dir` (created if missing), waiting for
 * nobody: a lock held by another live process is a one-line PushInputError naming it.
 */
export function acquireCheckpointLock(dir: string): CheckpointLock {
  const target = path.resolve(dir);
  let createdRoot: string | undefined;
  if (!fs.existsSync(target)) {
    try {
      createdRoot = fs.mkdirSync(target, { recursive: true });
    } catch (err) {
      throw ioError(dir, err, 'creating', dir);
    }
  }
  const key = keyOf(target);
  const mine = held.get(key);
  if (mine) {
    mine.count++;
    return handleOf(key, mine);
  }
  const lockPath = path.join(target, LOCK_FILE);
  const record: LockRecord = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: isoSeconds(Date.now() - process.uptime() * 1000),
    processStart: processStartOf(process.pid),
    dirId: dirIdOf(target),
    token: randomBytes(8).toString('hex'),
  };
  const text = JSON.stringify(record) + '\n';
  const fail = (err: Error) => {
    if (createdRoot) finalRelease({ target, shown: dir, lockPath, text, count: 0, owned: false, createdRoot });
    return err;
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    let created: boolean;
    try {
      created = createLock(target, lockPath, text, dir);
    } catch (err) {
      throw fail(err as Error);
    }
    if (created) {
      const h: Held = { target, shown: dir, lockPath, text, count: 1, owned: true, createdRoot };
      held.set(key, h);
      installExitHook();
      return handleOf(key, h);
    }
    let existing: string | undefined;
    try {
      existing = readLock(lockPath);
    } catch {
      // A directory, FIFO or symlink named like the lock: not ours to remove.
      throw fail(new PushInputError(`checkpoint ${dir}: ${LOCK_FILE} is not a regular file: expected push-ens's lock file (remove it if no run is writing ${dir})`));
    }
    if (existing === undefined) continue; // released meanwhile
    const r = parseLock(existing);
    if (!r) {
      // Only a file system without hard links shows a lock before its text is written.
      let age = Infinity;
      try {
        age = Date.now() - fs.lstatSync(lockPath).mtimeMs;
      } catch {
        continue;
      }
      if (age < 2000) {
        sleepSync(150);
        continue;
      }
      takeOver(target, lockPath, existing);
      continue;
    }
    const who = holderOf(r, target);
    if (who === 'live') throw fail(lockedError(dir, r, lockPath));
    if (who === 'self') {
      // Another copy of this module in this process (a test runner's module registry) holds it.
      const h: Held = { target, shown: dir, lockPath, text: existing, count: 1, owned: false, createdRoot };
      held.set(key, h);
      return handleOf(key, h);
    }
    takeOver(target, lockPath, existing);
  }
  throw fail(new PushInputError(`checkpoint ${dir}: could not take its lock ${lockPath}: other runs keep taking it`));
}

/** True when this process holds dir's lock. */
export function holdsCheckpointLock(dir: string): boolean {
  return held.has(keyOf(path.resolve(dir)));
}

/** Removes lock temporaries (`.push-ens.lock.<pid>-*`) of dead processes in `target`. Call with the lock held. */
export function removeLockDebris(target: string, names: readonly string[]): void {
  for (const name of names) {
    const m = LOCK_TEMP.exec(name);
    // This process removes its own where it makes them.
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    try {
      if (fs.lstatSync(path.join(target, name)).isFile()) fs.unlinkSync(path.join(target, name));
    } catch {
      /* gone */
    }
  }
}
