// A checkpoint directory on disk: manifest.json plus binary files, each listed in
// the manifest with its logical name, the file that holds it, its byte size and
// its sha256.
//
// Format version 2. What push-ens owns in a directory D is manifest.json, the
// files it lists, and its own leftovers: files named gNNNNNN-<name> (the files
// of generation NNNNNN), manifest.json.tmp-<pid> and the lock .push-ens.lock
// (and its temporaries .push-ens.lock.*). Everything else in D is the user's and
// is never read, moved or deleted.
//
// A save (one writer at a time: see checkpoint-lock.ts) writes the files of a
// new generation under new names (fsynced), the manifest to
// manifest.json.tmp-<pid> (fsynced), and renames it over manifest.json: that
// single rename is the commit. Then it deletes the files of older generations
// that the new manifest does not list. A crash at any point leaves the previous
// manifest and its files intact; the next writer removes the leftovers.
//
// The manifest's last field is manifestSha256, the sha256 of the manifest's text
// without that field; it catches accidents and hand edits, not a deliberate
// forger (who can recompute it). Version 1 manifests (files under their logical
// names, no generation, no checksum) were written by the previous release and
// are still read.
//
// Reading trusts nothing: manifest and files are opened without following
// symlinks, must be regular files (fstat), are size-checked before reading and
// read to exactly their listed size (src/util/safe-read.ts), and their sha256 is
// checked. A reader racing a writer may read a manifest whose files the writer
// then deletes: if a file is missing or wrong and manifest.json has changed
// since it was read, the read starts again on the new manifest; only a stable
// manifest with bad files is reported as corrupt.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { PushInputError, describeValue } from '../util/errors';
import { openRegularFile, readOpenFile, readRegularText } from '../util/safe-read';
import { CheckpointIoError, LOCK_FILE, LOCK_TEMP, acquireCheckpointLock, errnoText, pidAlive, removeLockDebris } from './checkpoint-lock';

export const CHECKPOINT_FORMAT = 'push-ens/checkpoint';
/** The version this release writes. */
export const CHECKPOINT_FORMAT_VERSION = 2;
/** The versions this release reads. */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2];
export const MANIFEST_FILE = 'manifest.json';
/** Largest manifest.json read (a manifest lists each particle's files: about 300 bytes a particle). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** A file of generation N: g<N, 6 digits or more>-<logical name>. */
export const GENERATION_FILE = /^g(\d{6,})-([A-Za-z0-9][A-Za-z0-9._-]{0,199})$/;
const LOGICAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const MANIFEST_TMP = /^manifest\.json\.tmp-(\d+)$/;
/** Files the previous release (format version 1) wrote: only these may be in one of its DIR.tmp-<pid> / DIR.old-<pid> leftovers. */
const LEGACY_FILE = /^particle-\d{3,}\.(?:params\.f32|optimizer\.f32|prior\.f32|swag\.bin)$/;
/** How many times a reader starts again on a manifest that keeps changing under it. */
const READ_ATTEMPTS = 10;

export interface FileEntry {
  /** Logical name: what the manifest's other fields refer to (e.g. particle-000.params.f32). */
  name: string;
  /** The file in the directory holding it (version 2: g000007-particle-000.params.f32; version 1: the name). */
  file?: string;
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
  /** Version 2: the save that wrote this manifest (1, 2, ...). */
  generation?: number;
  files: FileEntry[];
}

/** A failed save (disk full, I/O error, permission): the message names the path and says the last checkpoint is intact. */
export class CheckpointSaveError extends Error {
  override name = 'CheckpointSaveError';
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

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Bytes of a typed array (a view, no copy). */
export function bytesOf(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

// ------------------------------------------------------------------ manifest text

const SEAL = /,\n {2}"manifestSha256": "([0-9a-f]{64})"\n\}\n?$/;

/**
 * The manifest's text: `obj` as indented JSON (without any manifestSha256 it has), with
 * "manifestSha256": sha256 of that text added as the last field. Exported for tools and
 * tests that edit a manifest on purpose.
 */
export function sealManifest(obj: Record<string, unknown>): string {
  const { manifestSha256: _old, ...rest } = obj;
  const body = JSON.stringify(rest, null, 2) + '\n';
  return `${body.slice(0, -3)},\n  "manifestSha256": "${sha256(body)}"\n}\n`;
}

function sealHolds(text: string): boolean {
  const m = SEAL.exec(text);
  return !!m && sha256(text.slice(0, m.index) + '\n}\n') === m[1];
}

/** A manifest entry checked: logical name, the file holding it, size and hash. */
interface Listed {
  name: string;
  file: string;
  bytes: number;
  sha256: string;
}

interface ParsedManifest {
  manifest: ManifestHeader & Record<string, unknown>;
  version: number;
  generation: number;
  listed: Listed[];
}

/** A plain file name inside the directory: not "", ".", "..", no separator or NUL, none of push-ens's own names. */
function plainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name) && name !== MANIFEST_FILE && name !== LOCK_FILE && !LOCK_TEMP.test(name) && !MANIFEST_TMP.test(name);
}

/** Parses and verifies a manifest's text: one-line PushInputErrors for foreign, other-version, edited or corrupt ones. */
function parseManifest(text: string, dir: string): ParsedManifest {
  const where = `checkpoint ${dir}`;
  let m: ManifestHeader & Record<string, unknown>;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new PushInputError(`${where}: ${MANIFEST_FILE} is not valid JSON (${(err as Error).message.split('\n')[0]}): the checkpoint is corrupt`);
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new PushInputError(`${where}: ${MANIFEST_FILE} is not a JSON object: the checkpoint is corrupt`);
  if (m.format !== CHECKPOINT_FORMAT) throw new PushInputError(`${dir} is not a push-ens checkpoint: ${MANIFEST_FILE} has format ${describeValue(m.format)}, expected "${CHECKPOINT_FORMAT}"`);
  const version = m.formatVersion;
  if (!READABLE_FORMAT_VERSIONS.includes(version)) {
    throw new PushInputError(
      `${where} has format version ${describeValue(version)} (written by push-ens ${typeof m.pushEnsVersion === 'string' ? m.pushEnsVersion.slice(0, 40) : describeValue(m.pushEnsVersion)}): this push-ens ${pushEnsVersion()} reads versions ${READABLE_FORMAT_VERSIONS.join(' and ')}`,
    );
  }
  const edited = (what: string) => new PushInputError(`${where}: ${MANIFEST_FILE} ${what}: the checkpoint is corrupt (edited by hand?)`);
  if (version >= 2) {
    if (!('manifestSha256' in m)) throw edited('has no manifestSha256');
    if (!sealHolds(text)) throw edited('does not match its manifestSha256');
    delete m.manifestSha256;
    if (!Number.isSafeInteger(m.generation) || m.generation! < 1) throw new PushInputError(`${where}: ${MANIFEST_FILE} field generation is ${describeValue(m.generation)}: the checkpoint is corrupt`);
  } else if ('manifestSha256' in m || 'generation' in m) {
    throw edited('says format version 1 but has fields of version 2');
  }
  if (m.byteOrder !== 'little') throw new PushInputError(`${where}: byte order ${describeValue(m.byteOrder)}, expected "little"`);
  if (!Array.isArray(m.files)) throw new PushInputError(`${where}: ${MANIFEST_FILE} has no files list: the checkpoint is corrupt`);
  const listed: Listed[] = [];
  const names = new Set<string>();
  const files = new Set<string>();
  for (const f of m.files as unknown[]) {
    const { name, file, bytes, sha256: hash } = (f && typeof f === 'object' ? f : {}) as Record<string, unknown>;
    const shown = f && typeof f === 'object' ? `${describeValue(name)}${file !== undefined ? ` (file ${describeValue(file)})` : ''}` : describeValue(f);
    const bad = () => new PushInputError(`${where}: bad file entry ${shown} in ${MANIFEST_FILE}: the checkpoint is corrupt`);
    if (!f || typeof f !== 'object') throw bad();
    if (typeof name !== 'string' || !Number.isSafeInteger(bytes) || (bytes as number) < 0 || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) throw bad();
    let physical: string;
    if (version >= 2) {
      const g = typeof file === 'string' ? GENERATION_FILE.exec(file) : null;
      if (!LOGICAL_NAME.test(name) || !g || g[2] !== name) throw bad();
      physical = file as string;
    } else {
      if (!plainName(name)) throw bad();
      physical = name;
    }
    if (names.has(name) || files.has(physical)) throw bad();
    names.add(name);
    files.add(physical);
    listed.push({ name, file: physical, bytes: bytes as number, sha256: hash });
  }
  return { manifest: m, version, generation: version >= 2 ? m.generation! : 0, listed };
}

// ------------------------------------------------------------------ bounded reads

function lstatCode(file: string): string | undefined {
  try {
    fs.lstatSync(file);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

/** manifest.json's exact text: no-follow, a regular file, at most MAX_MANIFEST_BYTES. */
function readManifestText(target: string, dir: string): string {
  const file = path.join(target, MANIFEST_FILE);
  try {
    return readRegularText(file, { maxBytes: MAX_MANIFEST_BYTES, what: `checkpoint ${dir}: ${MANIFEST_FILE}` });
  } catch (err) {
    if (lstatCode(file) === 'ENOENT') throw new PushInputError(`${dir} is not a push-ens checkpoint: it has no ${MANIFEST_FILE}`);
    throw err;
  }
}

/** The bytes of a listed file: no-follow, regular, exactly its listed size, matching its sha256. */
function readListedFile(target: string, dir: string, e: Listed): Uint8Array {
  const what = `checkpoint ${dir}: file ${e.file}`;
  const { fd, size } = openRegularFile(path.join(target, e.file), { maxBytes: Number.MAX_SAFE_INTEGER, what });
  try {
    if (size !== e.bytes) throw new PushInputError(`${what} has ${size} bytes, expected ${e.bytes}: the checkpoint is truncated or corrupt`);
    if (size > bufferConstants.MAX_LENGTH) throw new PushInputError(`${what} has ${size} bytes, more than this process can hold in one buffer`);
    const buf = readOpenFile(fd, size);
    if (buf.byteLength !== size) throw new PushInputError(`${what} has ${buf.byteLength} bytes, expected ${e.bytes}: the checkpoint is truncated or corrupt`);
    if (sha256(buf) !== e.sha256) throw new PushInputError(`${what} does not match its sha256 in ${MANIFEST_FILE}: the checkpoint is corrupt`);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } finally {
    fs.closeSync(fd);
  }
}

/** True when dir holds a manifest.json of push-ens's format (read bounded and without following symlinks; not verified). */
export function isCheckpointDir(dir: string): boolean {
  try {
    const m = JSON.parse(readRegularText(path.join(path.resolve(dir), MANIFEST_FILE), { maxBytes: MAX_MANIFEST_BYTES })) as { format?: unknown };
    return !!m && m.format === CHECKPOINT_FORMAT;
  } catch {
    return false;
  }
}

function isLeftover(name: string): boolean {
  return name === LOCK_FILE || LOCK_TEMP.test(name) || MANIFEST_TMP.test(name) || GENERATION_FILE.test(name);
}

/**
 * True when dir is a directory holding nothing but push-ens's own leftovers (its lock,
 * temporary manifests, generation files of a save that never committed): no checkpoint yet,
 * nothing of the user's. An empty directory qualifies.
 */
export function holdsNoCheckpoint(dir: string): boolean {
  try {
    return fs.readdirSync(dir).every(isLeftover);
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
    if (!holdsNoCheckpoint(target) && !isCheckpointDir(target)) {
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

// ------------------------------------------------------------------ writing

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

/** Creates `file` (which must not exist; a symlink there is not followed), writes all of data, fsyncs. */
function writeNewFile(file: string, data: Uint8Array, created: () => void): void {
  const fd = fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0), 0o644);
  created();
  try {
    for (let off = 0; off < data.byteLength; ) off += fs.writeSync(fd, data, off, data.byteLength - off);
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

/** Unlinks `file` if it is a regular file (never a directory, and a symlink itself rather than its target). */
function removeRegular(file: string): void {
  try {
    const st = fs.lstatSync(file);
    if (st.isFile() || st.isSymbolicLink()) fs.unlinkSync(file);
  } catch {
    /* gone, or not ours to force: the next writer tries again */
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The checkpoint a save replaces: none, a valid one, or a manifest that does not verify (left alone). */
interface Previous {
  state: 'none' | 'valid' | 'unreadable';
  parsed?: ParsedManifest;
}

function previousCheckpoint(target: string, dir: string): Previous {
  let text: string;
  try {
    text = readManifestText(target, dir);
  } catch {
    return { state: lstatCode(path.join(target, MANIFEST_FILE)) === 'ENOENT' ? 'none' : 'unreadable' };
  }
  try {
    return { state: 'valid', parsed: parseManifest(text, dir) };
  } catch {
    return { state: 'unreadable' };
  }
}

function intactClause(prev: Previous, dir: string): string {
  if (prev.state === 'none') return `no earlier checkpoint was in ${dir}`;
  if (prev.state === 'unreadable') return `what was in ${dir} before is unchanged`;
  const epoch = prev.parsed!.manifest.epoch;
  return `the last checkpoint${Number.isInteger(epoch) ? ` (epoch ${epoch})` : ''} is intact`;
}

/**
 * Leftovers a save may remove before writing (the lock is held): temporary manifests and lock
 * files of dead processes, and generation files the current manifest does not list (a save
 * that never committed). Nothing is removed while the current manifest does not verify.
 */
function removeDebris(target: string, prev: Previous): void {
  const names = listDir(target);
  removeLockDebris(target, names);
  for (const name of names) {
    const m = MANIFEST_TMP.exec(name);
    if (m && (Number(m[1]) === process.pid || !pidAlive(Number(m[1])))) removeRegular(path.join(target, name));
  }
  if (prev.state === 'unreadable') return;
  const keep = new Set(prev.parsed?.listed.map((e) => e.file));
  for (const name of names) if (GENERATION_FILE.test(name) && !keep.has(name)) removeRegular(path.join(target, name));
}

function nextGeneration(target: string, prev: Previous): number {
  let gen = prev.parsed?.generation ?? 0;
  for (const name of listDir(target)) {
    const m = /^g(\d{6,})-/.exec(name);
    if (m) gen = Math.max(gen, Number(m[1]));
  }
  return gen + 1;
}

/** True when `file` is a regular file of the listed size and sha256: the file a version 1 manifest listed. */
function isListedFile(file: string, e: Listed): boolean {
  try {
    readListedFile(path.dirname(file), path.dirname(file), e);
    return true;
  } catch {
    return false;
  }
}

/** After a commit: the files of the previous manifest the new one does not list, and any unlisted generation files. */
function removeSuperseded(target: string, prev: Previous, kept: Set<string>): void {
  for (const e of prev.parsed?.listed ?? []) {
    if (kept.has(e.file)) continue;
    const file = path.join(target, e.file);
    // A version 1 file has a plain name: removed only when it is provably the file that was listed.
    if (GENERATION_FILE.test(e.file) || isListedFile(file, e)) removeRegular(file);
  }
  for (const name of listDir(target)) if (GENERATION_FILE.test(name) && !kept.has(name)) removeRegular(path.join(target, name));
}

/** A DIR.tmp-<pid> or DIR.old-<pid> the previous release left, holding only its manifest and the files it lists. */
function legacyDebrisFiles(dir: string): string[] | undefined {
  try {
    if (!fs.lstatSync(dir).isDirectory()) return undefined;
    const names = fs.readdirSync(dir);
    for (const n of names) {
      if (!fs.lstatSync(path.join(dir, n)).isFile()) return undefined;
      if (n !== MANIFEST_FILE && !LEGACY_FILE.test(n)) return undefined;
    }
    if (names.includes(MANIFEST_FILE)) {
      const m = JSON.parse(readRegularText(path.join(dir, MANIFEST_FILE), { maxBytes: MAX_MANIFEST_BYTES })) as { format?: unknown; files?: { name?: unknown }[] };
      if (!m || m.format !== CHECKPOINT_FORMAT || !Array.isArray(m.files)) return undefined;
      const listed = new Set(m.files.map((f) => f?.name));
      if (names.some((n) => n !== MANIFEST_FILE && !listed.has(n))) return undefined;
    }
    return names;
  } catch {
    return undefined;
  }
}

/**
 * Removes the previous release's DIR.tmp-<pid> / DIR.old-<pid> siblings of a dead writer that
 * provably hold nothing but its checkpoint files, once they are superseded. That release saved
 * by writing DIR.tmp-<pid> (manifest last), renaming DIR to DIR.old-<pid>, then DIR.tmp-<pid>
 * to DIR. So a DIR.tmp without a manifest is an unfinished save; and next to a valid DIR that
 * release wrote (version 1), a DIR.tmp was never committed and a DIR.old was superseded. When
 * DIR is missing, DIR.old (and a complete DIR.tmp) hold the last checkpoints that release
 * committed: they are left alone (reading DIR says where). Called once DIR holds a committed
 * checkpoint.
 */
function removeLegacySiblings(target: string, prev: Previous): void {
  const parent = path.dirname(target);
  const base = path.basename(target);
  for (const name of listDir(parent)) {
    if (!name.startsWith(`${base}.`)) continue;
    const m = /^\.(tmp|old)-(\d+)$/.exec(name.slice(base.length));
    if (!m || (Number(m[2]) !== process.pid && pidAlive(Number(m[2])))) continue;
    const dir = path.join(parent, name);
    const files = legacyDebrisFiles(dir);
    if (!files) continue;
    const superseded = (m[1] === 'tmp' && !files.includes(MANIFEST_FILE)) || (prev.state === 'valid' && prev.parsed!.version === 1);
    if (!superseded) continue;
    for (const f of files) removeRegular(path.join(dir, f));
    try {
      fs.rmdirSync(dir);
    } catch {
      /* something new appeared in it: left alone */
    }
  }
}

function saveError(dir: string, err: unknown, action: string, file: string, prev: Previous): unknown {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e.code !== 'string') return err;
  return new CheckpointSaveError(`could not save checkpoint ${dir}: ${errnoText(e)} (${action} ${path.join(dir, file)}); ${intactClause(prev, dir)}`);
}

/**
 * Writes `manifest` (its `files` list is filled in here) and the binary files as a new
 * generation of checkpoint `dir`, committed by one rename of manifest.json; then removes the
 * files of the generation it replaces. Other files in `dir` are left alone. Refuses a
 * directory that holds something else than a push-ens checkpoint, and one whose lock another
 * live process holds. A failed write is a one-line CheckpointSaveError: the previous
 * checkpoint is intact and the partial generation is removed.
 */
export function writeCheckpointDir(
  dir: string,
  manifest: Omit<ManifestHeader, 'files' | 'format' | 'formatVersion' | 'pushEnsVersion' | 'createdAt' | 'byteOrder' | 'generation'> & Record<string, unknown>,
  files: { name: string; data: Uint8Array }[],
): void {
  const seen = new Set<string>();
  for (const { name } of files) {
    if (!LOGICAL_NAME.test(name) || seen.has(name)) throw new Error(`checkpoint file name ${JSON.stringify(name)}: expected a unique name of letters, digits, ".", "_" and "-"`);
    seen.add(name);
  }
  const target = path.resolve(dir);
  checkCheckpointTarget(dir);
  let lock;
  try {
    lock = acquireCheckpointLock(dir);
  } catch (err) {
    if (!(err instanceof CheckpointIoError)) throw err;
    throw new CheckpointSaveError(`could not save checkpoint ${dir}: ${err.detail}; ${intactClause(previousCheckpoint(target, dir), dir)}`);
  }
  try {
    lock.verify();
    const prev = previousCheckpoint(target, dir);
    removeDebris(target, prev);
    const prefix = `g${String(nextGeneration(target, prev)).padStart(6, '0')}-`;
    const generation = Number(prefix.slice(1, -1));
    const tmpName = `${MANIFEST_FILE}.tmp-${process.pid}`;
    const written: string[] = [];
    let action = 'writing';
    let current = '';
    const entries: FileEntry[] = [];
    try {
      for (const { name, data } of files) {
        current = prefix + name;
        writeNewFile(path.join(target, current), data, () => written.push(current));
        entries.push({ name, file: current, bytes: data.byteLength, sha256: sha256(data) });
      }
      const full = {
        format: CHECKPOINT_FORMAT,
        formatVersion: CHECKPOINT_FORMAT_VERSION,
        pushEnsVersion: pushEnsVersion(),
        createdAt: new Date().toISOString(),
        byteOrder: 'little',
        generation,
        ...manifest,
        files: entries,
      };
      current = tmpName;
      writeNewFile(path.join(target, tmpName), Buffer.from(sealManifest(full), 'utf8'), () => written.push(tmpName));
      syncDir(target);
      lock.verify(); // still ours, just before the commit
      action = 'committing';
      current = MANIFEST_FILE;
      fs.renameSync(path.join(target, tmpName), path.join(target, MANIFEST_FILE));
    } catch (err) {
      for (const f of written) removeRegular(path.join(target, f));
      throw saveError(dir, err, action, current, prev);
    }
    syncDir(target);
    removeSuperseded(target, prev, new Set(entries.map((e) => e.file!)));
    removeLegacySiblings(target, prev);
  } finally {
    lock.release();
  }
}

// ------------------------------------------------------------------ reading

export interface CheckpointReader {
  dir: string;
  manifest: ManifestHeader & Record<string, unknown>;
  /** A verified file's bytes by logical name (size and sha256 checked when the checkpoint was opened). */
  file(name: string): Uint8Array;
}

/** Opens and verifies a checkpoint directory; one-line errors for anything missing, foreign or corrupt. */
export function readCheckpointDir(dir: string): CheckpointReader {
  const target = path.resolve(dir);
  const where = `checkpoint ${dir}`;
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    const parent = path.dirname(target);
    const base = path.basename(target);
    const aside = listDir(parent).find((f) => f.startsWith(`${base}.old-`) && /^\d+$/.test(f.slice(base.length + 5)));
    const hint = aside ? `; an interrupted save of an earlier push-ens left the previous checkpoint in ${path.join(parent, aside)} (rename it to ${base})` : '';
    throw new PushInputError(`${where} does not exist${hint}`);
  }
  if (!st.isDirectory()) throw new PushInputError(`${where} is a file: expected a checkpoint directory`);
  let text = readManifestText(target, dir);
  for (let attempt = 1; ; attempt++) {
    const parsed = parseManifest(text, dir);
    try {
      const contents = new Map<string, Uint8Array>();
      for (const e of parsed.listed) contents.set(e.name, readListedFile(target, dir, e));
      return {
        dir,
        manifest: parsed.manifest,
        file(name: string): Uint8Array {
          const data = contents.get(name);
          if (!data) throw new PushInputError(`${where}: ${MANIFEST_FILE} does not list file ${name}: the checkpoint is corrupt`);
          return data;
        },
      };
    } catch (err) {
      // A writer may have committed a new generation and removed this one's files: start again on it.
      if (!(err instanceof PushInputError) || attempt >= READ_ATTEMPTS) throw err;
      let now: string;
      try {
        now = readManifestText(target, dir);
      } catch {
        throw err;
      }
      if (now === text) throw err;
      text = now;
    }
  }
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
