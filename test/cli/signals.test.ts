// Stopping a run: SIGINT and SIGTERM say at once that the run stops after the
// running step, end the device workers (no orphan processes, not even a stopped
// one), keep the last complete checkpoint valid and exit 130 / 143; a device
// worker killed mid-run is a runtime failure (exit 1, one line naming the device
// and its particles).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alive, childPids, epochOf, runCli, sleep, tempDir, waitFor } from './helpers';

jest.setTimeout(120000);

let work: string;
beforeAll(() => {
  work = tempDir('signals');
});
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});


/** Starts a long run, waits for its first checkpoint and `epochs` progress lines, then calls act. */
async function longRun(dir: string, extra: string[], act: (pid: number) => void) {
  let pid = 0;
  const done = runCli(['train', '--epochs', '1000', '--particles', '2', '-b', '256', '--out', dir, ...extra], { onSpawn: (p) => (pid = p) });
  try {
    await waitFor(() => epochOf(dir) >= 2, 30000, 'the second checkpoint');
  } catch (err) {
    process.kill(pid, 'SIGKILL');
    await done;
    throw err;
  }
  const workers = childPids(pid);
  act(pid);
  return { result: await done, workers };
}

test('SIGINT: workers end, the last checkpoint stays valid, exit 130', async () => {
  const dir = path.join(work, 'int');
  const { result, workers } = await longRun(dir, ['--isolation', 'process', '--devices', 'cpu:0,cpu:1'], (pid) => process.kill(pid, 'SIGINT'));
  expect(workers).toHaveLength(2); // one child process per device
  expect(result.code).toBe(130);
  const last = result.stderr.trim().split('\n').pop();
  expect(last).toBe(`push-ens: interrupted by SIGINT: the last complete checkpoint in ${dir} is valid; continue with --resume ${dir}`);
  await sleep(200);
  expect(workers.filter(alive)).toEqual([]);
  expect(fs.readdirSync(work).filter((f) => /\.(tmp|old)-\d+$/.test(f))).toEqual([]);
  const epoch = epochOf(dir);
  expect(epoch).toBeGreaterThanOrEqual(1);
  expect(epoch).toBeLessThan(1000);
  const e = await runCli(['eval', '-c', dir, '--json']);
  expect(e.code).toBe(0);
  expect(JSON.parse(e.stdout).metrics.particles).toHaveLength(2);
});

test('SIGINT during a long first epoch: "stopping after this step" at once, then exit 130 and no --out directory', async () => {
  const dir = path.join(work, 'early');
  let pid = 0;
  let stderr = '';
  let sentAt = 0;
  let stoppingAt = 0;
  const r = await runCli(['train', '--data', 'mnist:6000,10', '--model', 'mlp:4096,4096', '--particles', '1', '--epochs', '5', '--out', dir], {
    onSpawn: (p) => (pid = p),
    onStderr: (d) => {
      stderr += d;
      // The second status line comes right before training starts. The first epoch (a stacked
      // group step: the run can stop only after it) must outlast the 8 s grace period, whatever
      // the kernels' speed: a 20M-parameter MLP takes about 20 s per epoch here (15 GFLOP a step).
      if (!sentAt && stderr.includes('loss cross-entropy')) {
        sentAt = -1;
        setTimeout(() => {
          process.kill(pid, 'SIGINT');
          sentAt = Date.now();
        }, 2000); // after the particles' set-up: the signal lands inside the first epoch
      }
      if (sentAt > 0 && !stoppingAt && stderr.includes('stopping after this step')) stoppingAt = Date.now();
    },
  });
  expect(r.code).toBe(130);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toContain('push-ens: stopping after this step... (Ctrl-C again to stop now)');
  expect(stoppingAt - sentAt).toBeLessThan(1000); // at once, not when the epoch ends
  expect(lines.pop()).toBe(`push-ens: interrupted by SIGINT: no checkpoint was written yet to ${dir}`);
  expect(fs.readdirSync(work).filter((f) => f.startsWith('early'))).toEqual([]);
});

describe('a stopped (SIGSTOP) worker process cannot stop by itself: it is killed, never left behind', () => {
  /** SIGSTOPs one worker, then SIGINTs the CLI (twice when `again`); a stopped worker that outlives the CLI is killed after 40 s so the test ends. */
  async function stoppedRun(dir: string, again: boolean) {
    let stopped = 0;
    let leftBehind = false;
    let safety: NodeJS.Timeout | undefined;
    let sigintAt = 0;
    const { result, workers } = await longRun(dir, ['--isolation', 'process', '--devices', 'cpu:0,cpu:1'], (pid) => {
      stopped = childPids(pid)[1];
      process.kill(stopped, 'SIGSTOP');
      safety = setTimeout(() => {
        leftBehind = alive(stopped);
        if (leftBehind) process.kill(stopped, 'SIGKILL'); // it holds the CLI's stderr open
      }, 40000);
      process.kill(pid, 'SIGINT');
      sigintAt = Date.now();
      if (again) setTimeout(() => process.kill(pid, 'SIGINT'), 500);
    });
    const seconds = (Date.now() - sigintAt) / 1000;
    clearTimeout(safety);
    const stoppedWasAlive = leftBehind || alive(stopped);
    if (alive(stopped)) process.kill(stopped, 'SIGKILL');
    return { result, workers, seconds, stoppedWasAlive };
  }

  test('after the 8 s grace period the run exits 130 and the stopped worker is killed', async () => {
    const dir = path.join(work, 'stopped-grace');
    const { result, workers, seconds, stoppedWasAlive } = await stoppedRun(dir, false);
    expect(result.code).toBe(130);
    expect(stoppedWasAlive).toBe(false);
    expect(workers.filter(alive)).toEqual([]);
    expect(seconds).toBeGreaterThan(7.5);
    expect(seconds).toBeLessThan(20);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toContain('push-ens: stopping after this step... (Ctrl-C again to stop now)');
    expect(lines.pop()).toBe(`push-ens: interrupted by SIGINT: the last complete checkpoint in ${dir} is valid; continue with --resume ${dir}`);
    expect(fs.readdirSync(work).filter((f) => /\.(tmp|old)-\d+$/.test(f))).toEqual([]);
    const e = await runCli(['eval', '-c', dir, '-q']);
    expect(e.code).toBe(0);
  });

  test('a second SIGINT stops at once and kills the stopped worker', async () => {
    const dir = path.join(work, 'stopped-again');
    const { result, workers, seconds, stoppedWasAlive } = await stoppedRun(dir, true);
    expect(result.code).toBe(130);
    expect(stoppedWasAlive).toBe(false);
    expect(workers.filter(alive)).toEqual([]);
    expect(seconds).toBeLessThan(5);
    expect(result.stderr.trim().split('\n').pop()).toBe(`push-ens: interrupted by SIGINT: the last complete checkpoint in ${dir} is valid; continue with --resume ${dir}`);
  });
});

test('SIGTERM: exit 143 with a valid checkpoint', async () => {
  const dir = path.join(work, 'term');
  const { result } = await longRun(dir, [], (pid) => process.kill(pid, 'SIGTERM'));
  expect(result.code).toBe(143);
  expect(result.stderr).toMatch(/push-ens: interrupted by SIGTERM/);
  expect(fs.existsSync(path.join(dir, 'manifest.json'))).toBe(true);
  const e = await runCli(['eval', '-c', dir, '-q']);
  expect(e.code).toBe(0);
});

test('a device worker killed mid-run: exit 1, one line naming the device, checkpoint still valid', async () => {
  const dir = path.join(work, 'killed');
  let victim = 0;
  const { result, workers } = await longRun(dir, ['--isolation', 'process', '--devices', 'cpu:0,cpu:1', '--quiet'], (pid) => {
    victim = childPids(pid)[0];
    process.kill(victim, 'SIGKILL');
  });
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^push-ens: error: device cpu:[01] worker died \(its process was killed by SIGKILL\); it held particles? \d/);
  await sleep(200);
  expect(workers.filter(alive)).toEqual([]);
  const e = await runCli(['eval', '-c', dir, '-q']);
  expect(e.code).toBe(0);
});
