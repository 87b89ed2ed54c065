// bench/soak: fault tolerance over minutes. 32 particles train on cpu:0,cpu:1
// with process workers through the real CLI, checkpointing every epoch, while
// the soak kills a random worker process (SIGKILL) at random times. Two kinds
// of life alternate at random:
//   resume   the kill ends the run (exit 1); the soak continues it with --resume;
//   restart  the run has --restart-workers, so it survives one or more kills by
//            itself; the soak then interrupts it with SIGINT (exit 130) and resumes.
//   coordinator  the soak SIGKILLs the CLI itself: its worker processes must
//            exit by themselves within seconds (no orphans), and the next life
//            takes over the dead run's stale lock and resumes.
// All the while two reader processes (bench/soak-reader) read and verify the
// checkpoint in a loop, and now and then a second writer tries to train into
// the same directory: it must be refused (exit 2, naming the lock's holder).
// The user's own files in the directory (notes.txt, preds/p.csv) must survive.
// When the time is up the run finishes undisturbed, and its checkpoint must hold
// exactly the particles (weights and optimizer state), losses and metrics of an
// uninterrupted run with the same seed, with no debris left behind.
// Run: npm run build && node dist/bench/soak.js [--minutes 3]
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpointDir } from '../src/bayes/checkpoint-dir';
import { Rng } from '../src/util/rng';
import { printTable, writeResults } from './report';

const CLI = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
/** The workload: the seed tutorial's data and network, 32 particles on two process workers. */
const WORKLOAD = ['--particles', '32', '--devices', 'cpu:0,cpu:1', '--isolation', 'process', '--data', 'seed-random', '--model', 'biggerNN:10,20', '-b', '128', '--seed', '7'];
/** Share of the time budget the uninterrupted reference run may take (the soak takes the rest). */
const REFERENCE_SHARE = 0.4;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Life {
  kind: 'resume' | 'restart' | 'coordinator';
  fromEpoch: number;
  toEpoch: number;
  kills: number;
  /** Worker restarts the CLI reported (restart lives). */
  restarts: number;
  /** Exit code, or the signal that ended the CLI (a SIGINT that lands while Node is already shutting down). */
  exit: number | string | null;
  lastLine: string;
  /** A second writer was started during this life (and refused). */
  secondWriter: boolean;
}

export interface SoakResult {
  minutes: number;
  epochs: number;
  lives: Life[];
  killsSurvived: number;
  coordinatorKills: number;
  secondWritersRefused: number;
  reads: { ok: number; failed: number; errors: string[] };
  orphans: number;
  debris: string[];
  userFilesIntact: boolean;
  equal: boolean;
  referenceSeconds: number;
  soakSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(args: string[]): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, 'train', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/** Worker processes of the CLI (its children, from /proc). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function epochOf(dir: string): number {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).epoch;
  } catch {
    return 0;
  }
}

/** The particles' files of a checkpoint, by their logical names (verified against the manifest). */
function particleFiles(dir: string): Map<string, Buffer> {
  const reader = readCheckpointDir(dir);
  const names = reader.manifest.files.map((f) => f.name).filter((n) => n.startsWith('particle-')).sort();
  return new Map(names.map((n) => [n, Buffer.from(reader.file(n))]));
}

function sameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  return a.size === b.size && [...a].every(([name, bytes]) => b.get(name)?.equals(bytes) === true);
}

/** Anything push-ens left in or beside DIR that is not the committed checkpoint or the user's files. */
function debrisOf(dir: string, userFiles: readonly string[]): string[] {
  const listed = new Set(readCheckpointDir(dir).manifest.files.map((f) => f.file ?? f.name));
  const inside = fs.readdirSync(dir).filter((f) => f !== 'manifest.json' && !listed.has(f) && !userFiles.some((u) => u.split('/')[0] === f));
  const base = path.basename(dir);
  const beside = fs.readdirSync(path.dirname(dir)).filter((f) => f.startsWith(`${base}.`));
  return [...inside.map((f) => path.join(base, f)), ...beside];
}

async function runToEnd(args: string[]): Promise<Exit> {
  const { done } = start(args);
  const r = await done;
  if (r.code !== 0) throw new Error(`push-ens train ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}`);
  return r;
}

/** Worker pids of the running CLI once it has workers; empty if the run ended first. */
async function workersOf(cli: ChildProcess): Promise<number[]> {
  for (;;) {
    if (cli.exitCode !== null || cli.signalCode !== null) return [];
    const workers = childPids(cli.pid!).filter(alive);
    if (workers.length > 0) return workers;
    await sleep(50);
  }
}

/** Kills one random worker of the running CLI once it has workers; false if the run ended first. */
async function killRandomWorker(cli: ChildProcess, rng: Rng): Promise<boolean> {
  const workers = await workersOf(cli);
  if (workers.length === 0) return false;
  process.kill(workers[rng.int(workers.length)], 'SIGKILL');
  return true;
}

/** Resolves after `ms`, or earlier (false) when the run exits. */
async function waitOrExit(done: Promise<Exit>, ms: number): Promise<boolean> {
  return Promise.race([sleep(ms).then(() => true), done.then(() => false)]);
}

/** Polls until none of `pids` is alive; returns those still alive after `ms`. */
async function survivorsAfter(pids: number[], ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  while (Date.now() < until && pids.some(alive)) await sleep(50);
  return pids.filter(alive);
}

function startReader(dir: string): Promise<{ ok: number; failed: number; errors: string[] }> {
  const child = spawn(process.execPath, [path.resolve(__dirname, 'soak-reader.js'), dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  readerStops.push(() => child.stdin!.end());
  return new Promise((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`soak reader exited ${code}`)))));
}
const readerStops: (() => void)[] = [];

/**
 * Starts a second writer (a resume of the same run) while the first one holds the lock: it must be
 * refused with one line naming the holder. If the first writer ended in between, the second gets
 * the lock legitimately; it is then interrupted (a resume is harmless: it continues the same run).
 */
async function secondWriter(dir: string): Promise<'refused' | 'raced'> {
  const { child, done } = start(['--resume', dir, '--json']);
  if (await waitOrExit(done, 5000)) {
    child.kill('SIGINT');
    await done;
    return 'raced';
  }
  const r = await done;
  const err = r.stderr.trim();
  if (r.code === 2 && /locked by pid \d+/.test(err) && !err.includes('\n')) return 'refused';
  throw new Error(`second writer: expected exit 2 naming the lock's holder, got exit ${r.code ?? r.signal}: ${err}`);
}

const USER_FILES: Record<string, string> = { 'notes.txt': 'my notes about this run\n', 'preds/p.csv': 'row,mean\n0,0.5\n' };

function writeUserFiles(dir: string): void {
  for (const [name, text] of Object.entries(USER_FILES)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

function userFilesIntact(dir: string): boolean {
  return Object.entries(USER_FILES).every(([name, text]) => {
    try {
      return fs.readFileSync(path.join(dir, name), 'utf8') === text;
    } catch {
      return false;
    }
  });
}

export async function runSoakBench(minutes = 3): Promise<SoakResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'push-ens-soak-'));
  const rng = new Rng(20261126);
  try {
    const budget = minutes * 60_000;
    const t0 = Date.now();
    // Size the run so the uninterrupted reference takes its share of the budget.
    const calibration = JSON.parse((await runToEnd([...WORKLOAD, '--epochs', '3', '--json'])).stdout) as { trainingSeconds: number };
    const epochs = Math.max(20, Math.round((REFERENCE_SHARE * budget) / 1000 / (calibration.trainingSeconds / 3)));
    console.error(`soak: ${epochs} epochs of 32 particles (${(calibration.trainingSeconds / 3).toFixed(2)} s per epoch)`);

    const refDir = path.join(work, 'reference');
    const tRef = Date.now();
    const reference = JSON.parse((await runToEnd([...WORKLOAD, '--epochs', String(epochs), '--out', refDir, '--json'])).stdout);
    const referenceSeconds = (Date.now() - tRef) / 1000;
    console.error(`soak: uninterrupted reference in ${referenceSeconds.toFixed(1)} s`);

    const dir = path.join(work, 'soaked');
    const readers = [startReader(dir), startReader(dir)];
    const deadline = t0 + budget - 10_000; // leave time for the last, undisturbed life to finish
    const tSoak = Date.now();
    const lives: Life[] = [];
    let final: Exit | undefined;
    let orphans = 0;
    let secondWritersRefused = 0;
    let userFilesPlaced = false;
    let userFilesKept = true;
    while (!final) {
      const fromEpoch = epochOf(dir);
      const args = fs.existsSync(path.join(dir, 'manifest.json')) ? ['--resume', dir, '--json'] : [...WORKLOAD, '--epochs', String(epochs), '--out', dir, '--json'];
      const disturb = Date.now() < deadline;
      const draw = rng.next();
      const kind: Life['kind'] = !disturb ? 'resume' : draw < 0.4 ? 'resume' : draw < 0.8 ? 'restart' : 'coordinator';
      const { child, done } = start(kind === 'restart' ? [...args, '--restart-workers', '100'] : args);
      let kills = 0;
      let second: Promise<void> | undefined;
      if (disturb && fs.existsSync(path.join(dir, 'manifest.json')) && rng.next() < 0.5) {
        second = (async () => {
          // Once the run holds the lock (its workers are up), a second writer must be refused.
          if ((await workersOf(child)).length > 0 && (await secondWriter(dir)) === 'refused') secondWritersRefused++;
        })();
      }
      if (disturb && kind === 'resume') {
        if ((await waitOrExit(done, 1500 + rng.next() * 6000)) && (await killRandomWorker(child, rng))) kills++;
      } else if (disturb && kind === 'restart') {
        const planned = 1 + rng.int(3);
        while (kills < planned && (await waitOrExit(done, 1500 + rng.next() * 5000)) && (await killRandomWorker(child, rng))) kills++;
        if (await waitOrExit(done, 1000 + rng.next() * 2000)) child.kill('SIGINT');
      } else if (disturb) {
        if (await waitOrExit(done, 1500 + rng.next() * 6000)) {
          const workers = await workersOf(child);
          child.kill('SIGKILL');
          // Orphaned workers must notice their coordinator is gone and exit by themselves.
          const left = await survivorsAfter(workers, 3000);
          orphans += left.length;
          for (const pid of left) process.kill(pid, 'SIGKILL');
        }
      }
      await second;
      const r = await done;
      const workersLeft = childPids(child.pid!).filter(alive);
      orphans += workersLeft.length;
      if (workersLeft.length) throw new Error(`life ${lives.length + 1}: worker processes ${workersLeft.join(', ')} outlived the CLI`);
      if (!userFilesPlaced && fs.existsSync(path.join(dir, 'manifest.json'))) {
        writeUserFiles(dir);
        userFilesPlaced = true;
      } else if (userFilesPlaced && !userFilesIntact(dir)) userFilesKept = false;
      const lastLine = r.stderr.trim().split('\n').pop() ?? '';
      lives.push({
        kind,
        fromEpoch,
        toEpoch: epochOf(dir),
        kills,
        restarts: r.stderr.split('\n').filter((l) => l.includes('restarted it (restart')).length,
        exit: r.code ?? r.signal,
        lastLine,
        secondWriter: second !== undefined,
      });
      console.error(`soak: life ${lives.length} (${kind}) epochs ${fromEpoch} -> ${epochOf(dir)}, ${kills} kill(s), exit ${r.code ?? r.signal}${r.code ? `: ${lastLine}` : ''}`);
      // Our SIGINT may also land while a finished CLI is already shutting down: then it ends by the signal itself.
      const interrupted = r.code === 130 || r.signal === 'SIGINT';
      if (r.code === 0) final = r;
      else if (kind === 'coordinator' && r.signal === 'SIGKILL') continue;
      else if (r.code !== 1 && !interrupted) throw new Error(`life ${lives.length}: unexpected exit ${r.code ?? r.signal}:\n${r.stderr}`);
      else if (r.code === 1 && !/worker died/.test(lastLine)) throw new Error(`life ${lives.length}: failed for another reason: ${lastLine}`);
    }
    const soakSeconds = (Date.now() - tSoak) / 1000;
    for (const stop of readerStops.splice(0)) stop();
    const readResults = await Promise.all(readers);
    const reads = { ok: readResults.reduce((n, r) => n + r.ok, 0), failed: readResults.reduce((n, r) => n + r.failed, 0), errors: readResults.flatMap((r) => r.errors) };
    const result = JSON.parse(final.stdout);
    const equal =
      sameFiles(particleFiles(dir), particleFiles(refDir)) &&
      JSON.stringify(result.finalLoss) === JSON.stringify(reference.finalLoss) &&
      JSON.stringify(result.metrics) === JSON.stringify(reference.metrics);
    const debris = debrisOf(dir, Object.keys(USER_FILES));
    const intact = userFilesKept && userFilesIntact(dir);
    // Every kill the run went on from: in a restart life the CLI restarted the worker, in a resume life the next life resumed.
    const killsSurvived = lives.reduce((n, l) => n + l.kills, 0);
    const coordinatorKills = lives.filter((l) => l.kind === 'coordinator' && l.exit === 'SIGKILL').length;
    const restarts = lives.reduce((n, l) => n + l.restarts, 0);
    printTable(`soak: ${minutes} min budget, 32 particles on cpu:0,cpu:1 (process workers), ${epochs} epochs`, [
      {
        worker_kills: killsSurvived,
        in_run_restarts: restarts,
        coordinator_kills: coordinatorKills,
        second_writers_refused: secondWritersRefused,
        reads_ok: reads.ok,
        reads_failed: reads.failed,
        orphans,
        debris: debris.length,
        user_files: intact ? 'kept' : 'LOST',
        lives: lives.length,
        epochs,
        equal: equal ? 'yes' : 'NO',
      },
    ]);
    if (reads.errors.length) console.error(`reader errors:\n  ${reads.errors.join('\n  ')}`);
    if (debris.length) console.error(`debris: ${debris.join(', ')}`);
    const file = writeResults('soak', {
      minutes, epochs, workload: WORKLOAD.join(' '), killsSurvived, inRunRestarts: restarts, coordinatorKills, secondWritersRefused,
      reads, orphans, debris, userFilesIntact: intact, equal, referenceSeconds, soakSeconds, lives,
    });
    console.log(`results: ${file}`);
    return { minutes, epochs, lives, killsSurvived, coordinatorKills, secondWritersRefused, reads, orphans, debris, userFilesIntact: intact, equal, referenceSeconds, soakSeconds };
  } finally {
    for (const stop of readerStops.splice(0)) stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The soak passes when nothing was lost, nothing was left behind and the result is exact. */
export function soakPassed(r: SoakResult): boolean {
  return r.equal && r.reads.failed === 0 && r.orphans === 0 && r.debris.length === 0 && r.userFilesIntact;
}

if (require.main === module) {
  const i = process.argv.indexOf('--minutes');
  const minutes = i >= 0 ? Number(process.argv[i + 1]) : 3;
  if (!(minutes > 0)) {
    console.error(`--minutes ${process.argv[i + 1]}: expected a positive number`);
    process.exit(2);
  }
  runSoakBench(minutes).then(
    (r) => process.exit(soakPassed(r) ? 0 : 1),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
