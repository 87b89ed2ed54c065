// Checkpoint directories on disk (src/bayes/checkpoint-dir.ts, checkpoint-lock.ts),
// with real files and real processes: a save touches only what push-ens wrote;
// readers racing a writer never fail; one writer at a time, stale locks taken
// over; a writer killed mid-save leaves a readable checkpoint and the next writer
// removes its debris; hand edits and bad entries are refused; a full disk gives
// one line saying the last checkpoint is intact; version 1 checkpoints still load.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointSaveError, readCheckpointDir, sealManifest, writeCheckpointDir } from '../../src/bayes/checkpoint-dir';
import { acquireCheckpointLock, holdsCheckpointLock } from '../../src/bayes/checkpoint-lock';
import { PushInputError } from '../../src/util/errors';
import { tempDir } from './helpers';

jest.setTimeout(120000);

const CHILD = path.join(__dirname, 'checkpoint-child.js');
const { dir: work, cleanup } = tempDir('ckptdir');
afterAll(cleanup);

const name = (k: number) => `particle-${String(k).padStart(3, '0')}.params.f32`;

/** Save i: `files` files of `bytes` bytes, every byte i % 251. */
function save(dir: string, i: number, bytes = 64, files = 2): void {
  const data = new Uint8Array(bytes).fill(i % 251);
  writeCheckpointDir(dir, { epoch: i }, Array.from({ length: files }, (_, k) => ({ name: name(k), data })));
}

function manifestOf(dir: string): { generation?: number; files: { name: string; file?: string }[] } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
}

/** What a directory holds besides user files: manifest.json and the files it lists, nothing else of ours. */
function expectClean(dir: string, userEntries: string[]): void {
  const listed = manifestOf(dir).files.map((f) => f.file ?? f.name);
  expect(fs.readdirSync(dir).sort()).toEqual([...listed, 'manifest.json', ...userEntries].sort());
}

/** A pid that is certainly not running: a `sleep 0` that has exited. */
/** The pid of a process that has exited (each call its own: pid + 1 may belong to anyone on a busy machine). */
function deadPid(): number {
  const r = spawnSync('sleep', ['0']);
  return r.pid;
}

function child(args: string[]): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, out: () => out, exited };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('ownership', () => {
  test("saves replace only the manifest and the files it listed; the user's files stay", () => {
    const d = path.join(work, 'own');
    save(d, 1);
    fs.writeFileSync(path.join(d, 'notes.txt'), 'my notes\n');
    fs.mkdirSync(path.join(d, 'preds'));
    fs.writeFileSync(path.join(d, 'preds', 'p.csv'), 'x,y\n1,2\n');
    // A user file named like a version 1 checkpoint file, not listed by the manifest.
    fs.writeFileSync(path.join(d, name(0)), 'mine\n');
    for (let i = 2; i <= 4; i++) save(d, i);
    expectClean(d, ['notes.txt', 'preds', name(0)]);
    expect(manifestOf(d).generation).toBe(4);
    expect(manifestOf(d).files.map((f) => f.file)).toEqual([`g000004-${name(0)}`, `g000004-${name(1)}`]);
    expect(fs.readFileSync(path.join(d, 'notes.txt'), 'utf8')).toBe('my notes\n');
    expect(fs.readFileSync(path.join(d, 'preds', 'p.csv'), 'utf8')).toBe('x,y\n1,2\n');
    expect(fs.readFileSync(path.join(d, name(0)), 'utf8')).toBe('mine\n');
    const r = readCheckpointDir(d);
    expect(r.manifest.epoch).toBe(4);
    expect(Array.from(r.file(name(1)))).toEqual(new Array(64).fill(4));
    expect(fs.existsSync(path.join(d, '.push-ens.lock'))).toBe(false);
  });

  test('a directory that holds anything else is refused; one holding only our leftovers is not', () => {
    const foreign = path.join(work, 'foreign');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'notes.txt'), 'x');
    expect(errorOf(() => save(foreign, 1)).message).toMatch(/foreign exists and is not a push-ens checkpoint: refusing to replace it/);
    expect(fs.readdirSync(foreign)).toEqual(['notes.txt']);
    // A first save killed before its commit: a stale lock and generation files, no manifest.
    const leftovers = path.join(work, 'leftovers');
    fs.mkdirSync(leftovers);
    fs.writeFileSync(path.join(leftovers, '.push-ens.lock'), JSON.stringify({ pid: deadPid(), host: os.hostname(), startedAt: '2026-01-01T00:00:00Z', token: 'x' }));
    fs.writeFileSync(path.join(leftovers, `g000001-${name(0)}`), 'partial');
    fs.writeFileSync(path.join(leftovers, `manifest.json.tmp-${deadPid()}`), '{');
    save(leftovers, 1);
    expectClean(leftovers, []);
    expect(manifestOf(leftovers).generation).toBe(1);
  });
});

describe('readers racing a writer', () => {
  test('never see a missing or corrupt checkpoint', async () => {
    const d = path.join(work, 'race');
    save(d, 1, 65536, 4);
    const writer = child(['write', d, '0', '65536', '4']);
    try {
      await waitFor(() => writer.out().includes('saved 1'), 20000, 'the first save');
      const readers = [0, 1, 2].map(() => child(['read', d, '4000']));
      await Promise.all(readers.map((r) => r.exited));
      const saves = writer.out().trim().split('\n').length;
      const results = readers.map((r) => JSON.parse(r.out()) as { ok: number; failed: number; errors: string[] });
      const ok = results.reduce((s, r) => s + r.ok, 0);
      const failed = results.reduce((s, r) => s + r.failed, 0);
      expect({ failed, errors: results.flatMap((r) => r.errors) }).toEqual({ failed: 0, errors: [] });
      expect(ok).toBeGreaterThan(100);
      expect(saves).toBeGreaterThan(10);
    } finally {
      writer.proc.kill('SIGKILL');
      await writer.exited;
    }
  });
});

describe('one writer at a time', () => {
  test('a live holder is named; a dead or reused pid is a stale lock, taken over', async () => {
    const d = path.join(work, 'lock');
    const holder = child(['hold', d]);
    try {
      await waitFor(() => holder.out().includes('locked'), 20000, 'the lock');
      const err = errorOf(() => save(d, 1));
      expect(err).toBeInstanceOf(PushInputError);
      expect(err.message).toMatch(new RegExp(`^checkpoint .*lock is locked by pid ${holder.proc.pid} \\(started \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\): another run is writing it$`));
      expect(fs.readdirSync(d)).toEqual(['.push-ens.lock']);
      // A copy of the directory (cp -r) carries the lock file, but not the lock.
      const copy = path.join(work, 'lock-copy');
      fs.cpSync(d, copy, { recursive: true });
      save(copy, 1);
      expectClean(copy, []);
    } finally {
      holder.proc.kill('SIGKILL');
      await holder.exited;
    }
    // The holder died holding it: stale.
    save(d, 1);
    expectClean(d, []);

    const lock = path.join(d, '.push-ens.lock');
    const record = (pid: number, extra: object = {}) => JSON.stringify({ pid, host: os.hostname(), startedAt: '2026-01-01T00:00:00Z', processStart: '1', token: 'abc', ...extra });
    fs.writeFileSync(lock, record(deadPid()));
    save(d, 2);
    expectClean(d, []);
    // pid 1 is alive, but it did not start when the lock says: the pid was reused.
    fs.writeFileSync(lock, record(1, { processStart: '999999999999' }));
    save(d, 3);
    expectClean(d, []);
    // Another host's lock cannot be checked from here: refused, with how to clear it.
    fs.writeFileSync(lock, record(1, { host: 'elsewhere' }));
    expect(errorOf(() => save(d, 4)).message).toMatch(/^checkpoint .* is locked by pid 1 on host elsewhere \(started 2026-01-01T00:00:00Z\): another run is writing it \(if it is not, remove .*\.push-ens\.lock\)$/);
    fs.unlinkSync(lock);
    expect(readCheckpointDir(d).manifest.epoch).toBe(3);
    // Something else under the lock's name is not ours to remove.
    fs.mkdirSync(lock);
    expect(errorOf(() => save(d, 4)).message).toBe(`checkpoint ${d}: .push-ens.lock is not a regular file: expected push-ens's lock file (remove it if no run is writing ${d})`);
    fs.rmdirSync(lock);
  });

  test('reentrant within a process; released by the last release; a directory made for the lock goes with it', () => {
    const d = path.join(work, 'reentrant', 'ckpt');
    const outer = acquireCheckpointLock(d);
    const inner = acquireCheckpointLock(d);
    save(d, 1);
    inner.release();
    expect(holdsCheckpointLock(d)).toBe(true);
    save(d, 2);
    outer.release();
    outer.release(); // twice is fine
    expect(holdsCheckpointLock(d)).toBe(false);
    expectClean(d, []);
    const empty = path.join(work, 'made-for-lock', 'a', 'b');
    acquireCheckpointLock(empty).release();
    expect(fs.existsSync(path.join(work, 'made-for-lock'))).toBe(false);
  });
});

describe('a writer killed mid-save', () => {
  test('leaves a readable checkpoint; the next writer removes every leftover and nothing else', async () => {
    const d = path.join(work, 'killed');
    save(d, 1, 1 << 20, 8);
    fs.writeFileSync(path.join(d, 'notes.txt'), 'keep\n');
    let leftoversSeen = 0;
    const epochs = new Set<number>();
    for (let k = 0; k < 6; k++) {
      const writer = child(['write', d, '0', String(1 << 20), '8']);
      await waitFor(() => writer.out().includes('saved'), 20000, 'a save');
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
      writer.proc.kill('SIGKILL');
      await writer.exited;
      const r = readCheckpointDir(d);
      epochs.add(r.manifest.epoch as number);
      const listed = new Set(manifestOf(d).files.map((f) => f.file));
      if (fs.readdirSync(d).some((f) => f !== 'manifest.json' && f !== 'notes.txt' && !listed.has(f))) leftoversSeen++;
    }
    expect(leftoversSeen).toBeGreaterThan(0);
    expect(epochs.size).toBeGreaterThan(1);
    save(d, 99, 1024, 2);
    expectClean(d, ['notes.txt']);
    expect(readCheckpointDir(d).manifest.epoch).toBe(99);
  });
});

describe("the previous release's leftovers next to the directory", () => {
  const v1Manifest = JSON.stringify({ format: 'push-ens/checkpoint', formatVersion: 1, byteOrder: 'little', files: [{ name: name(0), bytes: 1, sha256: createHash('sha256').update('a').digest('hex') }] });
  const legacy = (p: string, files: Record<string, string>) => {
    fs.mkdirSync(p);
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(p, f), text);
    return p;
  };

  test('removed once superseded, and only when they hold nothing but its checkpoint files', () => {
    // It saved by writing D.tmp-<pid>, renaming D to D.old-<pid>, then D.tmp-<pid> to D.
    const d = legacy(path.join(work, 'legacy'), { 'manifest.json': v1Manifest, [name(0)]: 'a' });
    const dead = deadPid();
    const old = legacy(`${d}.old-${dead}`, { 'manifest.json': v1Manifest, [name(0)]: 'a' }); // killed before removing it
    const tmp = legacy(`${d}.tmp-${deadPid()}`, { [name(0)]: 'a', [name(1)]: 'b' }); // killed while writing
    const notOurs = legacy(`${d}.old-${deadPid()}`, { 'manifest.json': v1Manifest, [name(0)]: 'a', 'thesis.tex': 'mine' });
    const notOursEither = legacy(`${d}.tmp-${deadPid()}`, { [name(0)]: 'a', 'link': 'x' });
    expect(readCheckpointDir(d).manifest.formatVersion).toBe(1);
    save(d, 2);
    expectClean(d, []);
    expect([old, tmp].filter((p) => fs.existsSync(p))).toEqual([]);
    expect(fs.readdirSync(notOurs).sort()).toEqual(['manifest.json', name(0), 'thesis.tex'].sort());
    expect(fs.readdirSync(notOursEither).sort()).toEqual(['link', name(0)].sort());
  });

  test('a D.old-<pid> when D is missing is the last checkpoint: reading D names it, saving into D keeps it', () => {
    const d = path.join(work, 'legacy-missing');
    const dead = deadPid();
    const old = legacy(`${d}.old-${dead}`, { 'manifest.json': v1Manifest, [name(0)]: 'a' });
    const done = legacy(`${d}.tmp-${dead}`, { 'manifest.json': v1Manifest, [name(0)]: 'a' });
    const unfinished = legacy(`${d}.tmp-${deadPid()}`, { [name(0)]: 'a' });
    expect(errorOf(() => readCheckpointDir(d)).message).toBe(
      `checkpoint ${d} does not exist; an interrupted save of an earlier push-ens left the previous checkpoint in ${old} (rename it to legacy-missing)`,
    );
    save(d, 1);
    save(d, 2);
    expect(fs.existsSync(old)).toBe(true);
    expect(fs.existsSync(done)).toBe(true);
    expect(fs.existsSync(unfinished)).toBe(false);
    expectClean(d, []);
  });
});

describe('what is trusted', () => {
  const d = path.join(work, 'trust');
  const manifest = () => path.join(d, 'manifest.json');
  const text = () => fs.readFileSync(manifest(), 'utf8');
  beforeEach(() => {
    fs.rmSync(d, { recursive: true, force: true });
    save(d, 5);
  });

  test('a hand edit of the manifest is refused as corrupt (the checksum catches edits, not forgeries)', () => {
    const where = `checkpoint ${d}: manifest.json`;
    fs.writeFileSync(manifest(), text().replace('"epoch": 5', '"epoch": 6'));
    expect(errorOf(() => readCheckpointDir(d)).message).toBe(`${where} does not match its manifestSha256: the checkpoint is corrupt (edited by hand?)`);
    save(d, 5);
    fs.writeFileSync(manifest(), JSON.stringify(JSON.parse(text())));
    expect(errorOf(() => readCheckpointDir(d)).message).toBe(`${where} does not match its manifestSha256: the checkpoint is corrupt (edited by hand?)`);
    const m = JSON.parse(text());
    delete m.manifestSha256;
    fs.writeFileSync(manifest(), JSON.stringify(m, null, 2));
    expect(errorOf(() => readCheckpointDir(d)).message).toBe(`${where} has no manifestSha256: the checkpoint is corrupt (edited by hand?)`);
    save(d, 5);
    fs.writeFileSync(manifest(), text().replace('"formatVersion": 2', '"formatVersion": 1'));
    expect(errorOf(() => readCheckpointDir(d)).message).toBe(`${where} says format version 1 but has fields of version 2: the checkpoint is corrupt (edited by hand?)`);
    // A forger recomputes the checksum: accepted (documented), the edit is in.
    save(d, 5);
    const forged = JSON.parse(text());
    forged.epoch = 6;
    fs.writeFileSync(manifest(), sealManifest(forged));
    expect(readCheckpointDir(d).manifest.epoch).toBe(6);
  });

  test('".", "..", "", paths and NUL as file entries: one-line PushInputError', () => {
    for (const bad of ['.', '..', '', 'a/b', '../x', '/etc/passwd', 'x\0y']) {
      for (const field of ['file', 'name']) {
        save(d, 5);
        const m = JSON.parse(text());
        m.files[0][field] = bad;
        fs.writeFileSync(manifest(), sealManifest(m));
        const err = errorOf(() => readCheckpointDir(d));
        expect(err).toBeInstanceOf(PushInputError);
        const shown = field === 'file' ? `"${name(0)}" (file ${JSON.stringify(bad)})` : `${JSON.stringify(bad)} (file "${m.files[0].file}")`;
        expect(err.message).toBe(`checkpoint ${d}: bad file entry ${shown} in manifest.json: the checkpoint is corrupt`);
        expect(err.message).not.toMatch(/\n/);
      }
      // Version 1 manifests carry no checksum: the entry check alone stands.
      fs.writeFileSync(manifest(), JSON.stringify({ format: 'push-ens/checkpoint', formatVersion: 1, byteOrder: 'little', files: [{ name: bad, bytes: 0, sha256: '0'.repeat(64) }] }));
      expect(errorOf(() => readCheckpointDir(d)).message).toMatch(/bad file entry .* in manifest\.json: the checkpoint is corrupt$/);
    }
  });

  test('files must be regular, inside the directory, of their listed size', () => {
    const file = () => path.join(d, manifestOf(d).files[0].file!);
    const where = () => `checkpoint ${d}: file ${path.basename(file())}`;
    const replace = (make: (f: string) => void) => {
      fs.rmSync(d, { recursive: true, force: true });
      save(d, 5);
      fs.rmSync(file());
      make(file());
      return errorOf(() => readCheckpointDir(d));
    };
    expect(replace((f) => fs.symlinkSync('/etc/passwd', f)).message).toBe(`${where()} is a symlink: expected a regular file`);
    expect(replace((f) => fs.symlinkSync('/dev/zero', f)).message).toBe(`${where()} is a symlink: expected a regular file`);
    expect(replace((f) => fs.mkdirSync(f)).message).toMatch(/is a directory: expected a regular file$/);
    expect(replace((f) => spawnSync('mkfifo', [f])).message).toBe(`${where()} is a FIFO: expected a regular file`);
    expect(replace((f) => fs.writeFileSync(f, Buffer.alloc(65, 5))).message).toBe(`${where()} has 65 bytes, expected 64: the checkpoint is truncated or corrupt`);
    expect(replace(() => undefined).message).toBe(`${where()} does not exist`);
    fs.rmSync(d, { recursive: true, force: true });
    save(d, 5);
    fs.rmSync(manifest());
    spawnSync('mkfifo', [manifest()]);
    expect(errorOf(() => readCheckpointDir(d)).message).toBe(`checkpoint ${d}: manifest.json is a FIFO: expected a regular file`);
  });
});

describe('version 1 checkpoints', () => {
  test('still load; the next save replaces their files (only those the manifest listed)', () => {
    const d = path.join(work, 'v1');
    fs.mkdirSync(d);
    const data = new Uint8Array(16).fill(7);
    const sha = createHash('sha256').update(data).digest('hex');
    fs.writeFileSync(path.join(d, name(0)), data);
    fs.writeFileSync(path.join(d, name(1)), 'a user file with a checkpoint-like name');
    fs.writeFileSync(path.join(d, 'notes.txt'), 'keep');
    const files = [{ name: name(0), bytes: 16, sha256: sha }];
    fs.writeFileSync(path.join(d, 'manifest.json'), JSON.stringify({ format: 'push-ens/checkpoint', formatVersion: 1, pushEnsVersion: '0.1.0', createdAt: 'x', byteOrder: 'little', epoch: 3, files }, null, 2) + '\n');
    const r = readCheckpointDir(d);
    expect(r.manifest.epoch).toBe(3);
    expect(Array.from(r.file(name(0)))).toEqual(new Array(16).fill(7));
    save(d, 4, 16, 1);
    expectClean(d, [name(1), 'notes.txt']);
    expect(readCheckpointDir(d).manifest.formatVersion).toBe(2);
  });
});

describe('a full disk', () => {
  const mnt = path.join(work, 'tiny');
  let mounted = false;
  beforeAll(() => {
    fs.mkdirSync(mnt);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', mnt]);
    mounted = r.status === 0;
    if (!mounted) console.warn(`skipping the ENOSPC test: cannot mount a 200 KB tmpfs (${String(r.stderr).trim() || r.error?.message})`);
  });
  afterAll(() => {
    if (mounted) spawnSync('umount', [mnt]);
  });

  test('ENOSPC: one line naming the file, the last checkpoint intact, the partial generation removed', () => {
    if (!mounted) return;
    const d = path.join(mnt, 'ckpt');
    save(d, 7, 30 * 1024, 4);
    fs.writeFileSync(path.join(d, 'notes.txt'), 'keep');
    const err = errorOf(() => save(d, 8, 30 * 1024, 4));
    expect(err).toBeInstanceOf(CheckpointSaveError);
    expect(err.message).toMatch(
      new RegExp(`^could not save checkpoint ${d}: no space left on device \\(writing ${d}/(g000002-particle-00\\d\\.params\\.f32|manifest\\.json\\.tmp-\\d+)\\); the last checkpoint \\(epoch 7\\) is intact$`),
    );
    expect(readCheckpointDir(d).manifest.epoch).toBe(7);
    expectClean(d, ['notes.txt']);
    // With room again, the next save goes through.
    save(d, 8, 1024, 4);
    expect(readCheckpointDir(d).manifest.epoch).toBe(8);
    expectClean(d, ['notes.txt']);
  });
});
