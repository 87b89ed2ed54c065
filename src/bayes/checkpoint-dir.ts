// A checkpoint directory on disk: manifest.json plus binary files, each listed
// in the manifest with its byte size and sha256. Written atomically: every file
// goes into DIR.tmp-<pid> first (fsynced), then the directory is renamed into
// place, so a crash leaves either the old checkpoint or the new one, never a
// half-written one. Reading verifies format, version, sizes and hashes.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PushInputError } from '../util/errors';

export const CHECKPOINT_FORMAT = 'push-ens/checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export interface FileEntry {
  name: string;
  bytes: number;
  sha256: string;
}

/** The fields every manifest starts with. */
export interface ManifestHeader {
  format: typeof CHECKPOINT_FORMAT;
  formatVersion: number;
  pushEnsVersion: string;
  createdAt: string;
  /** Binary files hold little-endian float32/float64 values. */
  byteOrder: 'little';
  files: FileEntry[];
}

let versionCache: string | undefined;

/** push-ens's version, from the package.json above this file (src/ or dist/src/). */
export function pushEnsVersion(): string {
  if (versionCache) return versionCache;
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'push-ens' && pkg.version) return (versionCache = pkg.version);
    }
    dir = path.dirname(dir);
  }
  return (versionCache = '0.0.0');
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Bytes of a typed array (a view, no copy). */
export function bytesOf(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function writeFileSynced(file: string, data: Uint8Array | string): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* some platforms cannot fsync a directory; the rename is still atomic */
  }
}

function isCheckpointDir(dir: string): boolean {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as { format?: unknown };
    return m.format === CHECKPOINT_FORMAT;
  } catch {
    return false;
  }
}

/**
 * Fails with a one-line error when `dir` cannot take a checkpoint: it is a file, a directory
 * that holds something else, or its nearest existing ancestor is a file or not writable.
 * Training calls it before any worker starts, so a bad path costs no epochs.
 */
export function checkCheckpointTarget(dir: string): void {
  const target = path.resolve(dir);
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory()) throw new PushInputError(`checkpoint path ${dir} is a file: expected a directory (or a path that does not exist)`);
    if (fs.readdirSync(target).length > 0 && !isCheckpointDir(target)) {
      throw new PushInputError(`${dir} exists and is not a push-ens checkpoint: refusing to replace it (choose another directory)`);
    }
  }
  let parent = path.dirname(target);
  while (!fs.existsSync(parent)) parent = path.dirname(parent);
  if (!fs.statSync(parent).isDirectory()) throw new PushInputError(`checkpoint path ${dir}: ${parent} is a file, expected a directory`);
  try {
    fs.accessSync(parent, fs.constants.W_OK);
  } catch {
    throw new PushInputError(`checkpoint path ${dir}: directory ${parent} is not writable`);
  }
}

/**
 * Writes `manifest` (its `files` list is filled in here) and the binary files into `dir`,
 * atomically replacing a checkpoint already there. Refuses to replace a directory
 * that is not empty and not a push-ens checkpoint.
 */
export function writeCheckpointDir(dir: string, manifest: Omit<ManifestHeader, 'files' | 'format' | 'formatVersion' | 'pushEnsVersion' | 'createdAt' | 'byteOrder'> & Record<string, unknown>, files: { name: string; data: Uint8Array }[]): void {
  const target = path.resolve(dir);
  checkCheckpointTarget(dir);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    const entries: FileEntry[] = files.map(({ name, data }) => {
      writeFileSynced(path.join(tmp, name), data);
      return { name, bytes: data.byteLength, sha256: sha256(data) };
    });
    const full = {
      format: CHECKPOINT_FORMAT,
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      pushEnsVersion: pushEnsVersion(),
      createdAt: new Date().toISOString(),
      byteOrder: 'little',
      ...manifest,
      files: entries,
    };
    writeFileSynced(path.join(tmp, MANIFEST_FILE), JSON.stringify(full, null, 2) + '\n');
    syncDir(tmp);
    if (fs.existsSync(target)) {
      // Move the old checkpoint aside, the new one in, then delete the old one.
      const old = `${target}.old-${process.pid}`;
      fs.rmSync(old, { recursive: true, force: true });
      fs.renameSync(target, old);
      fs.renameSync(tmp, target);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, target);
    }
    syncDir(path.dirname(target));
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface CheckpointReader {
  dir: string;
  manifest: ManifestHeader & Record<string, unknown>;
  /** A verified file's bytes (size and sha256 checked when the checkpoint was opened). */
  file(name: string): Uint8Array;
}

/** Opens and verifies a checkpoint directory; one-line errors for anything missing, foreign or corrupt. */
export function readCheckpointDir(dir: string): CheckpointReader {
  const target = path.resolve(dir);
  const where = `checkpoint ${dir}`;
  if (!fs.existsSync(target)) {
    const parent = path.dirname(target);
    const base = path.basename(target);
    const aside = fs.existsSync(parent) ? fs.readdirSync(parent).find((f) => f.startsWith(`${base}.old-`)) : undefined;
    const hint = aside ? `; an interrupted save left the previous checkpoint in ${path.join(parent, aside)}` : '';
    throw new PushInputError(`${where} does not exist${hint}`);
  }
  if (!fs.statSync(target).isDirectory()) throw new PushInputError(`${where} is a file: expected a checkpoint directory`);
  const manifestPath = path.join(target, MANIFEST_FILE);
  if (!fs.existsSync(manifestPath)) throw new PushInputError(`${dir} is not a push-ens checkpoint: it has no ${MANIFEST_FILE}`);
  let manifest: ManifestHeader & Record<string, unknown>;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (err) {
    throw new PushInputError(`${where}: ${MANIFEST_FILE} is not valid JSON (${(err as Error).message.split('\n')[0]}): the checkpoint is corrupt`);
  }
  if (!manifest || typeof manifest !== 'object') throw new PushInputError(`${where}: ${MANIFEST_FILE} is not a JSON object: the checkpoint is corrupt`);
  if (manifest.format !== CHECKPOINT_FORMAT) throw new PushInputError(`${dir} is not a push-ens checkpoint: ${MANIFEST_FILE} has format ${JSON.stringify(manifest.format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (manifest.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new PushInputError(`${where} has format version ${JSON.stringify(manifest.formatVersion)} (written by push-ens ${manifest.pushEnsVersion}): this push-ens ${pushEnsVersion()} reads version ${CHECKPOINT_FORMAT_VERSION}`);
  }
  if (manifest.byteOrder !== 'little') throw new PushInputError(`${where}: byte order ${JSON.stringify(manifest.byteOrder)}, expected "little"`);
  if (!Array.isArray(manifest.files)) throw new PushInputError(`${where}: ${MANIFEST_FILE} has no files list: the checkpoint is corrupt`);
  const contents = new Map<string, Uint8Array>();
  for (const f of manifest.files) {
    if (!f || typeof f.name !== 'string' || path.basename(f.name) !== f.name) throw new PushInputError(`${where}: bad file entry ${JSON.stringify(f)} in ${MANIFEST_FILE}`);
    const file = path.join(target, f.name);
    if (!fs.existsSync(file)) throw new PushInputError(`${where}: file ${f.name} is missing`);
    const data = new Uint8Array(fs.readFileSync(file));
    if (data.byteLength !== f.bytes) throw new PushInputError(`${where}: file ${f.name} has ${data.byteLength} bytes, expected ${f.bytes}: the checkpoint is truncated or corrupt`);
    if (sha256(data) !== f.sha256) throw new PushInputError(`${where}: file ${f.name} does not match its sha256 in ${MANIFEST_FILE}: the checkpoint is corrupt`);
    contents.set(f.name, data);
  }
  return {
    dir,
    manifest,
    file(name: string): Uint8Array {
      const data = contents.get(name);
      if (!data) throw new PushInputError(`${where}: ${MANIFEST_FILE} does not list file ${name}: the checkpoint is corrupt`);
      return data;
    },
  };
}

/** float32 values of a file (copied to an aligned buffer). */
export function float32Of(data: Uint8Array, what: string, expected: number): Float32Array {
  if (data.byteLength !== expected * 4) throw new PushInputError(`${what} holds ${data.byteLength} bytes, expected ${expected * 4} (${expected} float32 values)`);
  return new Float32Array(data.slice().buffer);
}

export function float64Of(data: Uint8Array, what: string, expected: number): Float64Array {
  if (data.byteLength !== expected * 8) throw new PushInputError(`${what} holds ${data.byteLength} bytes, expected ${expected * 8} (${expected} float64 values)`);
  return new Float64Array(data.slice().buffer);
}
