// Stopping a run: SIGINT and SIGTERM end the device workers (no orphan
// processes), keep the last complete checkpoint valid and exit 130 / 143; a
// device worker killed mid-run is a runtime failure (exit 1, one line naming
// the device and its particles).
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

test('SIGINT before the first checkpoint: exit 130 and no --out directory', async () => {
  const dir = path.join(work, 'early');
  let pid = 0;
  let stderr = '';
  let sent = false;
  const r = await runCli(['train', '--data', 'mnist:3000,10', '--model', 'lenet', '--particles', '1', '--epochs', '5', '--out', dir], {
    onSpawn: (p) => (pid = p),
    onStderr: (d) => {
      stderr += d;
      // The second status line comes right before training starts; the first epoch takes seconds.
      if (!sent && stderr.includes('loss cross-entropy')) {
        sent = true;
        setTimeout(() => process.kill(pid, 'SIGINT'), 300);
      }
    },
  });
  expect(r.code).toBe(130);
  expect(r.stderr.trim().split('\n').pop()).toBe(`push-ens: interrupted by SIGINT: no checkpoint was written yet to ${dir}`);
  expect(fs.readdirSync(work).filter((f) => f.startsWith('early'))).toEqual([]);
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
