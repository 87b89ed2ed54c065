// bench/soak: fault tolerance over minutes. 32 particles train on cpu:0,cpu:1
// with process workers through the real CLI, checkpointing every epoch, while
// the soak kills a random worker process (SIGKILL) at random times. Two kinds
// of life alternate at random:
//   resume   the kill ends the run (exit 1); the soak continues it with --resume;
//   restart  the run has --restart-workers, so it survives one or more kills by
//            itself; the soak then interrupts it with SIGINT (exit 130) and resumes.
// When the time is up the run finishes undisturbed, and its checkpoint must hold
// exactly the particles (weights and optimizer state), losses and metrics of an
// uninterrupted run with the same seed.
// Run: npm run build && node dist/bench/soak.js [--minutes 3]
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
  kind: 'resume' | 'restart';
  fromEpoch: number;
  toEpoch: number;
  kills: number;
  /** Worker restarts the CLI reported (restart lives). */
  restarts: number;
  /** Exit code, or the signal that ended the CLI (a SIGINT that lands while Node is already shutting down). */
  exit: number | string | null;
  lastLine: string;
}

export interface SoakResult {
  minutes: number;
  epochs: number;
  lives: Life[];
  killsSurvived: number;
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

function particleFiles(dir: string): Map<string, Buffer> {
  return new Map(fs.readdirSync(dir).filter((f) => f.startsWith('particle-')).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

function sameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  return a.size === b.size && [...a].every(([name, bytes]) => b.get(name)?.equals(bytes) === true);
}

async function runToEnd(args: string[]): Promise<Exit> {
  const { done } = start(args);
  const r = await done;
  if (r.code !== 0) throw new Error(`push-ens train ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}`);
  return r;
}

/** Kills one random worker of the running CLI once it has workers; false if the run ended first. */
async function killRandomWorker(cli: ChildProcess, rng: Rng): Promise<boolean> {
  for (;;) {
    if (cli.exitCode !== null || cli.signalCode !== null) return false;
    const workers = childPids(cli.pid!).filter(alive);
    if (workers.length > 0) {
      process.kill(workers[rng.int(workers.length)], 'SIGKILL');
      return true;
    }
    await sleep(50);
  }
}

/** Resolves after `ms`, or earlier (false) when the run exits. */
async function waitOrExit(done: Promise<Exit>, ms: number): Promise<boolean> {
  return Promise.race([sleep(ms).then(() => true), done.then(() => false)]);
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
    const deadline = t0 + budget - 10_000; // leave time for the last, undisturbed life to finish
    const tSoak = Date.now();
    const lives: Life[] = [];
    let final: Exit | undefined;
    while (!final) {
      const fromEpoch = epochOf(dir);
      const args = fs.existsSync(path.join(dir, 'manifest.json')) ? ['--resume', dir, '--json'] : [...WORKLOAD, '--epochs', String(epochs), '--out', dir, '--json'];
      const disturb = Date.now() < deadline;
      const kind: Life['kind'] = rng.next() < 0.5 ? 'resume' : 'restart';
      const { child, done } = start(kind === 'restart' && disturb ? [...args, '--restart-workers', '100'] : args);
      let kills = 0;
      if (disturb && kind === 'resume') {
        if ((await waitOrExit(done, 1500 + rng.next() * 6000)) && (await killRandomWorker(child, rng))) kills++;
      } else if (disturb) {
        const planned = 1 + rng.int(3);
        while (kills < planned && (await waitOrExit(done, 1500 + rng.next() * 5000)) && (await killRandomWorker(child, rng))) kills++;
        if (await waitOrExit(done, 1000 + rng.next() * 2000)) child.kill('SIGINT');
      }
      const r = await done;
      const workersLeft = childPids(child.pid!).filter(alive);
      if (workersLeft.length) throw new Error(`life ${lives.length + 1}: worker processes ${workersLeft.join(', ')} outlived the CLI`);
      const lastLine = r.stderr.trim().split('\n').pop() ?? '';
      lives.push({
        kind: disturb ? kind : 'resume',
        fromEpoch,
        toEpoch: epochOf(dir),
        kills,
        restarts: r.stderr.split('\n').filter((l) => l.includes('restarted it (restart')).length,
        exit: r.code ?? r.signal,
        lastLine,
      });
      console.error(`soak: life ${lives.length} (${lives[lives.length - 1].kind}) epochs ${fromEpoch} -> ${epochOf(dir)}, ${kills} kill(s), exit ${r.code ?? r.signal}${r.code ? `: ${lastLine}` : ''}`);
      // Our SIGINT may also land while a finished CLI is already shutting down: then it ends by the signal itself.
      const interrupted = r.code === 130 || r.signal === 'SIGINT';
      if (r.code === 0) final = r;
      else if (r.code !== 1 && !interrupted) throw new Error(`life ${lives.length}: unexpected exit ${r.code ?? r.signal}:\n${r.stderr}`);
      else if (r.code === 1 && !/worker died/.test(lastLine)) throw new Error(`life ${lives.length}: failed for another reason: ${lastLine}`);
    }
    const soakSeconds = (Date.now() - tSoak) / 1000;
    const result = JSON.parse(final.stdout);
    const equal =
      sameFiles(particleFiles(dir), particleFiles(refDir)) &&
      JSON.stringify(result.finalLoss) === JSON.stringify(reference.finalLoss) &&
      JSON.stringify(result.metrics) === JSON.stringify(reference.metrics);
    // Every kill the run went on from: in a restart life the CLI restarted the worker, in a resume life the next life resumed.
    const killsSurvived = lives.reduce((n, l) => n + l.kills, 0);
    const restarts = lives.reduce((n, l) => n + l.restarts, 0);
    printTable(`soak: ${minutes} min budget, 32 particles on cpu:0,cpu:1 (process workers), ${epochs} epochs`, [
      {
        kills_survived: killsSurvived,
        in_run_restarts: restarts,
        lives: lives.length,
        resumes: lives.length - 1,
        epochs,
        reference_s: referenceSeconds,
        soak_s: soakSeconds,
        equal: equal ? 'yes' : 'NO',
      },
    ]);
    const file = writeResults('soak', { minutes, epochs, workload: WORKLOAD.join(' '), killsSurvived, inRunRestarts: restarts, equal, referenceSeconds, soakSeconds, lives });
    console.log(`results: ${file}`);
    return { minutes, epochs, lives, killsSurvived, equal, referenceSeconds, soakSeconds };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const i = process.argv.indexOf('--minutes');
  const minutes = i >= 0 ? Number(process.argv[i + 1]) : 3;
  if (!(minutes > 0)) {
    console.error(`--minutes ${process.argv[i + 1]}: expected a positive number`);
    process.exit(2);
  }
  runSoakBench(minutes).then(
    (r) => process.exit(r.equal ? 0 : 1),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
