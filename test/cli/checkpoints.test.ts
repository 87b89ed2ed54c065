// What a checkpoint directory promises, through the real CLI (docs/CLI.md, "What
// a checkpoint directory promises"): the user's files survive every kind of save;
// one writer at a time (a second `train --out D` exits 2 naming the first, a stale
// lock is taken over); readers racing a writer never fail; a killed writer's
// debris is removed by the next; nothing in the directory is trusted (symlinks,
// FIFOs, devices, directories, wrong sizes, hand edits, bad entries: one line,
// exit 2, no hang); a full disk says the last checkpoint is intact; version 1
// checkpoints still load.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpointDir, sealManifest } from '../../src/bayes/checkpoint-dir';
import { CliResult, checkpointFile, epochOf, errorLine, pool, runCli, tempDir, waitFor, ok } from './helpers';

jest.setTimeout(180000);

let work: string;
beforeAll(() => {
  work = tempDir('ckpt');
});
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const W = (...p: string[]) => path.join(work, ...p);
const T = ['--data', 'toy', '--model', 'mlp:8', '--particles', '2', '-b', '32'];
const STARTED = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';

function manifestOf(dir: string): { files: { name: string; file?: string }[]; formatVersion: number; epoch: number } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
}

/** The directory holds manifest.json, the files it lists and the user's entries: nothing else. */
function expectClean(dir: string, userEntries: string[]): void {
  const listed = manifestOf(dir).files.map((f) => f.file ?? f.name);
  expect(fs.readdirSync(dir).sort()).toEqual([...listed, 'manifest.json', ...userEntries].sort());
}

function addUserFiles(dir: string): void {
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'my notes\n');
  fs.mkdirSync(path.join(dir, 'preds'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'preds', 'p.csv'), 'row,mean\n0,1.5\n');
}

function expectUserFiles(dir: string): void {
  expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('my notes\n');
  expect(fs.readFileSync(path.join(dir, 'preds', 'p.csv'), 'utf8')).toBe('row,mean\n0,1.5\n');
}

function deadPid(): number {
  return spawnSync('sleep', ['0']).pid;
}

let base: string;
beforeAll(async () => {
  base = W('base');
  ok(await runCli(['train', ...T, '--epochs', '2', '--out', base, '--quiet']));
});

function copyBase(name: string): string {
  const to = W(name);
  fs.cpSync(base, to, { recursive: true });
  return to;
}

test("the user's files survive periodic saves, --resume D --out D and --force", async () => {
  const d = W('own');
  ok(await runCli(['train', ...T, '--epochs', '2', '--out', d, '--quiet']));
  addUserFiles(d);
  ok(await runCli(['train', '--resume', d, '--epochs', '5', '--checkpoint-every', '1', '--quiet']));
  expect(epochOf(d)).toBe(5);
  expectUserFiles(d);
  expectClean(d, ['notes.txt', 'preds']);
  // Resuming in place needs no --force.
  ok(await runCli(['train', '--resume', d, '--out', d, '--epochs', '7', '--checkpoint-every', '2', '--quiet']));
  expect(epochOf(d)).toBe(7);
  expectUserFiles(d);
  expectClean(d, ['notes.txt', 'preds']);
  ok(await runCli(['train', ...T, '--particles', '3', '--epochs', '2', '--out', d, '--force', '--quiet']));
  expect(epochOf(d)).toBe(2);
  expect(manifestOf(d).files.filter((f) => f.name.endsWith('.params.f32'))).toHaveLength(3);
  expectUserFiles(d);
  expectClean(d, ['notes.txt', 'preds']);
});

describe('one writer', () => {
  test('two train --out D at once: one trains, the other exits 2 naming it', async () => {
    const d = W('two');
    const args = ['train', ...T, '--epochs', '150', '--out', d, '--quiet'];
    const pids: number[] = [];
    const results = await Promise.all([0, 1].map((i) => runCli(args, { onSpawn: (p) => (pids[i] = p) })));
    const codes = results.map((r) => r.code);
    expect([...codes].sort()).toEqual([0, 2]);
    const loser = codes.indexOf(2);
    const winner = 1 - loser;
    expect(errorLine(results[loser])).toMatch(new RegExp(`^push-ens: error: checkpoint ${d} is locked by pid ${pids[winner]} \\(started ${STARTED}\\): another run is writing it$`));
    expect(results[loser].stdout).toBe('');
    expect(epochOf(d)).toBe(150);
    expectClean(d, []);
  });

  test('while a run writes D, --force, --resume D and --resume D --out D are refused too', async () => {
    const d = W('busy');
    let pid = 0;
    const run = runCli(['train', ...T, '--epochs', '1000', '--out', d, '--quiet'], { onSpawn: (p) => (pid = p) });
    try {
      await waitFor(() => epochOf(d) >= 1, 30000, 'the first checkpoint');
      const others = await Promise.all([
        runCli(['train', ...T, '--epochs', '2', '--out', d, '--force']),
        runCli(['train', '--resume', d]),
        runCli(['train', '--resume', d, '--out', d]),
      ]);
      for (const r of others) {
        expect(r.code).toBe(2);
        expect(errorLine(r)).toMatch(new RegExp(`^push-ens: error: checkpoint ${d} is locked by pid ${pid} \\(started ${STARTED}\\): another run is writing it$`));
      }
    } finally {
      process.kill(pid, 'SIGKILL');
      await run;
    }
  });

  test('a stale lock (its process is gone) is taken over', async () => {
    const stale = JSON.stringify({ pid: deadPid(), host: os.hostname(), startedAt: '2026-01-01T00:00:00Z', processStart: '1', token: 'x' });
    // A run killed before its first checkpoint left the directory holding only its lock.
    const fresh = W('stale-fresh');
    fs.mkdirSync(fresh);
    fs.writeFileSync(path.join(fresh, '.push-ens.lock'), stale);
    ok(await runCli(['train', ...T, '--epochs', '2', '--out', fresh, '--quiet']));
    expectClean(fresh, []);
    // A checkpoint whose writer was killed.
    const resumed = copyBase('stale-resume');
    fs.writeFileSync(path.join(resumed, '.push-ens.lock'), stale);
    ok(await runCli(['train', '--resume', resumed, '--epochs', '3', '--quiet']));
    expect(epochOf(resumed)).toBe(3);
    expectClean(resumed, []);
  });
});

test('readers (push-ens eval and a read loop) racing a run that checkpoints every epoch never fail', async () => {
  const d = W('race');
  ok(await runCli(['train', '--data', 'toy', '--model', 'mlp:64,64', '--particles', '2', '-b', '32', '--epochs', '1', '--out', d, '--quiet']));
  let pid = 0;
  const run = runCli(['train', '--resume', d, '--epochs', '100000', '--checkpoint-every', '1', '--quiet'], { onSpawn: (p) => (pid = p) });
  try {
    await waitFor(() => epochOf(d) >= 3, 30000, 'periodic checkpoints');
    const loop = spawn(process.execPath, [path.resolve(__dirname, '..', 'bayes', 'checkpoint-child.js'), 'read', d, '6000', 'any'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let loopOut = '';
    loop.stdout.setEncoding('utf8').on('data', (s: string) => (loopOut += s));
    const loopDone = new Promise((r) => loop.on('close', r));
    const evals: CliResult[] = [];
    const epochBefore = epochOf(d);
    for (let i = 0; i < 4; i++) evals.push(await runCli(['eval', '-c', d, '--json']));
    await loopDone;
    expect(epochOf(d)).toBeGreaterThan(epochBefore + 2); // checkpoints were written all along
    expect(evals.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    const reads = JSON.parse(loopOut) as { ok: number; failed: number; errors: string[] };
    expect(reads.errors).toEqual([]);
    expect(reads.failed).toBe(0);
    expect(reads.ok).toBeGreaterThan(20);
  } finally {
    process.kill(pid, 'SIGKILL');
    await run;
  }
});

test('a run SIGKILLed mid-save leaves a readable checkpoint; the next writer removes its debris', async () => {
  const d = W('killed');
  const big = ['--data', 'toy', '--model', 'mlp:256,256', '--particles', '2', '-b', '32', '--checkpoint-every', '1'];
  ok(await runCli(['train', ...big, '--epochs', '1', '--out', d, '--quiet']));
  addUserFiles(d);
  for (let k = 0; k < 3; k++) {
    let pid = 0;
    const epoch = epochOf(d);
    const run = runCli(['train', ...big, '--epochs', '100000', '--out', d, '--force', '--quiet'], { onSpawn: (p) => (pid = p) });
    await waitFor(() => epochOf(d) !== epoch && epochOf(d) >= 2, 30000, 'a checkpoint of the new run');
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
    process.kill(pid, 'SIGKILL');
    const r = await run;
    expect(r.signal).toBe('SIGKILL');
    ok(await runCli(['eval', '-c', d]));
  }
  ok(await runCli(['train', ...big, '--epochs', '1', '--out', d, '--force', '--quiet']));
  expectClean(d, ['notes.txt', 'preds']);
  expectUserFiles(d);
  expect(fs.readdirSync(work).filter((f) => /\.(tmp|old)-\d+$/.test(f))).toEqual([]);
});

describe('nothing in the directory is trusted', () => {
  const variants: { name: string; make: (dir: string) => void; message: RegExp }[] = [
    { name: 'params symlinked to /dev/zero', make: (d) => swap(d, (f) => fs.symlinkSync('/dev/zero', f)), message: /file g\d{6}-particle-000\.params\.f32 is a symlink: expected a regular file$/ },
    { name: 'params as a FIFO', make: (d) => swap(d, (f) => spawnSync('mkfifo', [f])), message: /file g\d{6}-particle-000\.params\.f32 is a FIFO: expected a regular file$/ },
    { name: 'params symlinked to /etc/passwd', make: (d) => swap(d, (f) => fs.symlinkSync('/etc/passwd', f)), message: /file g\d{6}-particle-000\.params\.f32 is a symlink: expected a regular file$/ },
    { name: 'params symlinked to a file outside', make: (d) => swap(d, (f) => fs.symlinkSync(checkpointFile(base, 'particle-000.params.f32'), f)), message: /is a symlink: expected a regular file$/ },
    { name: 'a directory in place of params', make: (d) => swap(d, (f) => fs.mkdirSync(f)), message: /file g\d{6}-particle-000\.params\.f32 is a directory: expected a regular file$/ },
    { name: 'params larger than listed', make: (d) => fs.appendFileSync(checkpointFile(d, 'particle-000.params.f32'), Buffer.alloc(4)), message: /file g\d{6}-particle-000\.params\.f32 has (\d+) bytes, expected \d+: the checkpoint is truncated or corrupt$/ },
    { name: 'manifest.json as a FIFO', make: (d) => (fs.rmSync(path.join(d, 'manifest.json')), spawnSync('mkfifo', [path.join(d, 'manifest.json')])), message: /manifest\.json is a FIFO: expected a regular file$/ },
    { name: 'manifest.json symlinked to /dev/zero', make: (d) => (fs.rmSync(path.join(d, 'manifest.json')), fs.symlinkSync('/dev/zero', path.join(d, 'manifest.json'))), message: /manifest\.json is a symlink: expected a regular file$/ },
  ];
  function swap(d: string, make: (f: string) => void): void {
    const f = checkpointFile(d, 'particle-000.params.f32');
    fs.rmSync(f);
    make(f);
  }

  test('symlinks, FIFOs, devices, directories and wrong sizes: one line, exit 2, no hang, no size of a file outside leaked', async () => {
    const runs = variants.flatMap((v, i) => {
      const d = copyBase(`bad-${i}`);
      v.make(d);
      return [['eval', '-c', d], ['predict', '-c', d], ['train', '--resume', d]].map((args) => ({ v, args }));
    });
    const passwdSize = String(fs.statSync('/etc/passwd').size);
    const results = await pool(runs, 2, ({ args }) => runCli(args, { timeoutMs: 30000 }));
    results.forEach((r, i) => {
      const { v, args } = runs[i];
      const what = `${v.name}: ${args.join(' ')}`;
      expect({ what, code: r.code, signal: r.signal }).toEqual({ what, code: 2, signal: null });
      expect(r.ms).toBeLessThan(20000);
      expect(errorLine(r)).toMatch(v.message);
      if (v.name.includes('passwd')) expect(r.stderr).not.toContain(passwdSize);
    });
    // --out over a directory whose manifest.json is a FIFO: refused at once, not read forever.
    const fifo = W('bad-6');
    const r = await runCli(['train', ...T, '--out', fifo, '--force'], { timeoutMs: 30000 });
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/--out ".*bad-6" exists and is not a push-ens checkpoint/);
  });

  test('a hand-edited manifest (lr changed) is refused as corrupt; ".", ".." and "" entries give one line, exit 2', async () => {
    const edited = copyBase('edited');
    const file = path.join(edited, 'manifest.json');
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain('"lr": 0.01');
    fs.writeFileSync(file, text.replace('"lr": 0.01', '"lr": 1000000'));
    const cases: { args: string[]; message: RegExp }[] = [
      { args: ['eval', '-c', edited], message: /checkpoint .*edited: manifest\.json does not match its manifestSha256: the checkpoint is corrupt \(edited by hand\?\)$/ },
      { args: ['train', '--resume', edited, '--epochs', '4'], message: /checkpoint .*edited: manifest\.json does not match its manifestSha256: the checkpoint is corrupt \(edited by hand\?\)$/ },
    ];
    ['.', '..', ''].forEach((bad, i) => {
      // A forger who recomputes the checksum still cannot point outside the directory.
      const forged = copyBase(`entry-${i}`);
      const m = JSON.parse(fs.readFileSync(path.join(forged, 'manifest.json'), 'utf8'));
      m.files[0].file = bad;
      fs.writeFileSync(path.join(forged, 'manifest.json'), sealManifest(m));
      cases.push({ args: ['eval', '-c', forged], message: new RegExp(`bad file entry "particle-000\\.params\\.f32" \\(file ${JSON.stringify(bad).replace(/\./g, '\\.')}\\) in manifest\\.json: the checkpoint is corrupt$`) });
      // A version 1 manifest has no checksum: the same entry check.
      const v1 = W(`entry-v1-${i}`);
      toVersion1(base, v1);
      const m1 = JSON.parse(fs.readFileSync(path.join(v1, 'manifest.json'), 'utf8'));
      m1.files[0].name = bad;
      fs.writeFileSync(path.join(v1, 'manifest.json'), JSON.stringify(m1, null, 2));
      cases.push({ args: ['predict', '-c', v1], message: new RegExp(`bad file entry ${JSON.stringify(bad).replace(/\./g, '\\.')} in manifest\\.json: the checkpoint is corrupt$`) });
    });
    const results = await pool(cases, 2, (c) => runCli(c.args));
    results.forEach((r, i) => {
      expect({ args: cases[i].args, code: r.code }).toEqual({ args: cases[i].args, code: 2 });
      expect(errorLine(r)).toMatch(cases[i].message);
    });
  });
});

/** The same checkpoint in the previous release's layout: files under their logical names, no generation, no checksum. */
function toVersion1(from: string, to: string): void {
  fs.mkdirSync(to);
  const m = JSON.parse(fs.readFileSync(path.join(from, 'manifest.json'), 'utf8'));
  for (const f of m.files) {
    fs.copyFileSync(path.join(from, f.file), path.join(to, f.name));
    delete f.file;
  }
  delete m.generation;
  delete m.manifestSha256;
  m.formatVersion = 1;
  fs.writeFileSync(path.join(to, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
}

test('version 1 checkpoints still load, and resuming one rewrites it as version 2, keeping the user files', async () => {
  const v1 = W('v1');
  toVersion1(base, v1);
  addUserFiles(v1);
  const [a, b] = await Promise.all([runCli(['eval', '-c', v1, '--json']), runCli(['eval', '-c', base, '--json'])]);
  expect(JSON.parse(ok(a).stdout).metrics).toEqual(JSON.parse(ok(b).stdout).metrics);
  ok(await runCli(['predict', '-c', v1, '--modes', 'mean']));
  ok(await runCli(['train', '--resume', v1, '--epochs', '3', '--quiet']));
  expect(manifestOf(v1)).toMatchObject({ formatVersion: 2, epoch: 3 });
  expectClean(v1, ['notes.txt', 'preds']);
  expectUserFiles(v1);
  expect(readCheckpointDir(v1).manifest.epoch).toBe(3);
});

describe('a full disk', () => {
  let mnt: string;
  let mounted = false;
  beforeAll(() => {
    mnt = W('tiny');
    fs.mkdirSync(mnt);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=800k', 'tmpfs', mnt]);
    mounted = r.status === 0;
    if (!mounted) console.warn(`skipping the CLI ENOSPC test: cannot mount an 800 KB tmpfs (${String(r.stderr).trim() || r.error?.message})`);
  });
  afterAll(() => {
    if (mounted) spawnSync('umount', [mnt]);
  });

  test('ENOSPC during a periodic save: one line naming the path, saying the last checkpoint is intact; exit 1', async () => {
    if (!mounted) return;
    const d = path.join(mnt, 'ckpt');
    // About 480 KB a checkpoint (one particle of mlp:200,200 with Adam): the second does not fit beside the first.
    const r = await runCli(['train', '--data', 'toy', '--model', 'mlp:200,200', '--particles', '1', '-b', '32', '--epochs', '3', '--checkpoint-every', '1', '--out', d, '--quiet']);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(
      new RegExp(`^push-ens: error: could not save checkpoint ${d}: no space left on device \\(writing ${d}/g000002-particle-000\\.(params|optimizer)\\.f32\\); the last checkpoint \\(epoch 1\\) is intact$`),
    );
    expect(epochOf(d)).toBe(1);
    expectClean(d, []);
    ok(await runCli(['eval', '-c', d]));
  });
});
