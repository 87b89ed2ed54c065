// Bounded reads of regular files. A file named by a checkpoint, a manifest or
// any other input may be a symlink, a FIFO (a synchronous read of it blocks the
// event loop forever), a device such as /dev/zero (endless) or far larger than
// expected. Every read of such a file goes through here: opened without
// blocking (and without following a final symlink unless the user named the
// path), checked with fstat to be a regular file of an acceptable size, and
// read to exactly the size fstat reported.
import * as fs from 'node:fs';
import { PushInputError } from './errors';

export interface SafeReadOptions {
  /** Largest size accepted, in bytes. */
  maxBytes: number;
  /** Follow a symlink at the last path component: true only for paths the user typed. Default false. */
  followSymlinks?: boolean;
  /** Names the file in errors, e.g. "checkpoint D: file params.f32". Default: the path. */
  what?: string;
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

/** Opens `file` read-only for a bounded read; the caller closes the fd. Throws a one-line PushInputError. */
export function openRegularFile(file: string, opts: SafeReadOptions): { fd: number; size: number } {
  const what = opts.what ?? file;
  const flags = O_RDONLY | O_NONBLOCK | (opts.followSymlinks ? 0 : O_NOFOLLOW ?? 0);
  let fd: number;
  try {
    fd = fs.openSync(file, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PushInputError(`${what} does not exist`);
    if (code === 'ELOOP' || code === 'EMLINK') throw new PushInputError(`${what} is a symlink: expected a regular file`);
    if (code === 'EISDIR') throw new PushInputError(`${what} is a directory: expected a regular file`);
    if (code === 'EACCES' || code === 'EPERM') throw new PushInputError(`${what} cannot be read (permission denied)`);
    throw new PushInputError(`${what} cannot be opened (${code ?? (err as Error).message})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new PushInputError(`${what} is ${kindOf(st)}: expected a regular file`);
    if (st.size > opts.maxBytes) throw new PushInputError(`${what} holds ${st.size} bytes, more than the ${opts.maxBytes} expected`);
    return { fd, size: st.size };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** The bytes of a regular file of at most `maxBytes` (see SafeReadOptions). */
export function readRegularFile(file: string, opts: SafeReadOptions): Buffer {
  const { fd, size } = openRegularFile(file, opts);
  try {
    return readOpenFile(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Up to `size` bytes from the start of an open file, in a buffer of its own (not a pooled slice).
 * A file that shrinks while read gives fewer bytes: the caller's size or hash check catches that.
 */
export function readOpenFile(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafeSlow(size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return off === size ? buf : buf.subarray(0, off);
}

/** A regular file's text (UTF-8), bounded as readRegularFile. */
export function readRegularText(file: string, opts: SafeReadOptions): string {
  return readRegularFile(file, opts).toString('utf8');
}
