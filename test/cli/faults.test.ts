// Faults through `push-ens train`: --on-nan stop/skip/reinit, --timeout, a
// worker killed mid-run (detected within 2 s; --resume then ends exactly where
// an uninterrupted run ends) and --restart-workers (the run goes on by itself,
// to the same result). test/cli/signals.test.ts covers exit 1, the one-line
// error and the valid checkpoint after a kill; this file adds the rest.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpointDir } from '../../src/bayes/checkpoint-dir';
import { alive, checkpointFiles, childPids, epochOf, errorLine, runCli, sleep, tempDir, waitFor } from './helpers';

jest.setTimeout(120000);

let work: string;
beforeAll(() => {
  work = tempDir('faults');
});
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});


/** The bytes of every particle file (weights, optimizer state) of a checkpoint, by logical name. */
const particleFiles = checkpointFiles;

/** A CSV of y = x + noise-free steps where row 7's target is 1e20: finite, but its squared error overflows float32. */
function csvWithHugeTarget(): string {
  const file = path.join(work, 'huge-target.csv');
  const rows = ['x,y'];
  for (let i = 0; i < 48; i++) rows.push(`${(i / 48).toFixed(4)},${i === 7 ? '1e20' : ((2 * i) / 48).toFixed(4)}`);
  fs.writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

describe('--on-nan', () => {
  test('stop (the default): one line naming particle, epoch and step, exit 1, the last complete checkpoint intact', async () => {
    const dir = path.join(work, 'nan-stop');
    // Two sane epochs, then the step schedule multiplies the learning rate by 1e30.
    const r = await runCli(['train', '--data', 'toy', '--model', 'mlp:8', '--particles', '2', '--epochs', '5', '-b', '32', '--optimizer', 'sgd', '--scheduler', 'step:stepSize=2,gamma=1e30', '--out', dir, '--quiet']);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(
      new RegExp(
        `^push-ens: error: particle [01]: non-finite (loss|gradient) .* at epoch 3, step [2-4] of 4; training stopped \\(on-nan policy "stop"\\); ` +
          `the last complete checkpoint in ${dir} is valid; continue with --resume ${dir} \\(with --on-nan skip or reinit to go past the step\\)$`,
      ),
    );
    expect(readCheckpointDir(dir).manifest.epoch).toBe(2);
  });

  test('skip and reinit: one note per epoch naming particles and steps; --json lists every event', async () => {
    const csv = `csv:${csvWithHugeTarget()}`;
    const args = ['train', '--data', csv, '--model', 'mlp:8', '--particles', '3', '--epochs', '2', '-b', '16', '--test-fraction', '0'];
    const [skip, reinit] = await Promise.all([runCli([...args, '--on-nan', 'skip']), runCli([...args, '--on-nan', 'reinit', '--json'])]);

    expect(skip.code).toBe(0);
    const notes = skip.stderr.split('\n').filter((l) => l.includes('non-finite loss'));
    expect(notes).toHaveLength(2); // every particle meets row 7 once per epoch
    for (const [i, note] of notes.entries()) {
      expect(note).toMatch(new RegExp(`^epoch ${i + 1}/2: non-finite loss: skipped the update of particle 0 \\(step (\\d)\\), particle 1 \\(step \\1\\), particle 2 \\(step \\1\\) \\(--on-nan skip\\)$`));
    }
    expect(skip.stdout).toMatch(/^non-finite losses: 6 skipped particle-steps \(--on-nan skip\)$/m);

    expect(reinit.code).toBe(0);
    const out = JSON.parse(reinit.stdout);
    expect(out.onNan).toBe('reinit');
    expect(out.nanEventCount).toBe(6);
    expect(out.nanEvents).toHaveLength(6);
    for (const e of out.nanEvents) {
      expect(e).toEqual({ particle: expect.any(Number), epoch: expect.any(Number), step: expect.any(Number), steps: 3, loss: 'Infinity', action: 'reinit' });
    }
    expect(out.nanEvents.map((e: { particle: number; epoch: number }) => `${e.epoch}:${e.particle}`)).toEqual(['1:0', '1:1', '1:2', '2:0', '2:1', '2:2']);
    expect(out.finalLoss.every((l: unknown) => typeof l === 'number')).toBe(true); // JSON null would mean NaN
  });
});

test('--timeout: a worker that stops answering ends the run with exit 1 and one line; no process is left', async () => {
  const dir = path.join(work, 'timeout');
  let cli = 0;
  let stopped = 0;
  const done = runCli(['train', '--epochs', '1000', '--particles', '2', '-b', '256', '--isolation', 'process', '--devices', 'cpu:0,cpu:1', '--timeout', '1500', '--out', dir, '--quiet'], {
    onSpawn: (p) => (cli = p),
  });
  try {
    await waitFor(() => epochOf(dir) >= 2, 30000, 'the second checkpoint');
    const workers = childPids(cli);
    expect(workers).toHaveLength(2);
    stopped = workers[1];
    process.kill(stopped, 'SIGSTOP');
    const r = await done;
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(
      // The worker may stop in an epoch or while the checkpoint reads its particles: both are handler calls.
      new RegExp(`^push-ens: error: message "bayes(TrainEpoch|Export)" to particle [01] on cpu:[01] got no answer within 1500 ms; the last complete checkpoint in ${dir} is valid; continue with --resume ${dir}$`),
    );
    await sleep(200);
    expect(workers.filter(alive)).toEqual([]);
    expect(readCheckpointDir(dir).manifest.epoch).toBeGreaterThanOrEqual(2);
  } finally {
    if (stopped && alive(stopped)) process.kill(stopped, 'SIGKILL');
    if (cli && alive(cli)) process.kill(cli, 'SIGKILL');
    await done;
  }
});

describe('a worker process killed mid-run', () => {
  // 40 epochs of 32 steps: long enough to kill one worker after a few checkpoints.
  const RUN = ['train', '--particles', '2', '--epochs', '40', '-b', '32', '--devices', 'cpu:0,cpu:1', '--json'];
  let reference: { files: Record<string, string>; json: { finalLoss: number[]; metrics: unknown } };

  beforeAll(async () => {
    const dir = path.join(work, 'reference');
    const r = await runCli([...RUN, '--out', dir]);
    if (r.code !== 0) throw new Error(`the uninterrupted run failed:\n${r.stderr}`);
    reference = { files: particleFiles(dir), json: JSON.parse(r.stdout) };
  });

  /** Starts the run with process workers, kills one worker once `afterEpochs` are checkpointed; resolves with the result and the kill time. */
  async function killedRun(dir: string, extra: string[], afterEpochs = 3) {
    let cli = 0;
    let killedAt = 0;
    let reportedAt = 0;
    const done = runCli([...RUN, '--isolation', 'process', '--out', dir, ...extra], {
      onSpawn: (p) => (cli = p),
      onStderr: (chunk) => {
        if (!reportedAt && chunk.includes('worker died')) reportedAt = Date.now();
      },
    });
    try {
      await waitFor(() => epochOf(dir) >= afterEpochs, 30000, `checkpoint ${afterEpochs}`);
    } catch (err) {
      process.kill(cli, 'SIGKILL');
      await done;
      throw err;
    }
    const workers = childPids(cli);
    process.kill(workers[0], 'SIGKILL');
    killedAt = Date.now();
    const r = await done;
    return { r, workers, detectionMs: reportedAt - killedAt };
  }

  test('detected within 2 s, exit 1; --resume then ends with the particles and metrics of an uninterrupted run', async () => {
    const dir = path.join(work, 'killed');
    const { r, workers, detectionMs } = await killedRun(dir, []);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/^push-ens: error: device cpu:[01] worker died \(its process was killed by SIGKILL\); it held particles? \d; the last complete checkpoint in .* is valid; continue with --resume /);
    expect(detectionMs).toBeGreaterThan(0);
    expect(detectionMs).toBeLessThan(2000);
    await sleep(200);
    expect(workers.filter(alive)).toEqual([]);
    const stoppedAt = epochOf(dir);
    expect(stoppedAt).toBeLessThan(40);

    const resumed = await runCli(['train', '--resume', dir, '--json']);
    expect(resumed.code).toBe(0);
    const json = JSON.parse(resumed.stdout);
    expect(json.startEpoch).toBe(stoppedAt);
    expect(particleFiles(dir)).toEqual(reference.files);
    expect(json.finalLoss).toEqual(reference.json.finalLoss);
    expect(json.metrics).toEqual(reference.json.metrics);
  });

  test('--restart-workers: the run restarts the worker, redoes the lost epochs and ends as if nothing happened', async () => {
    const dir = path.join(work, 'restarted');
    const { r } = await killedRun(dir, ['--restart-workers', '2']);
    expect(r.code).toBe(0);
    const warnings = r.stderr.trim().split('\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^push-ens: warning: device cpu:[01] worker died \(its process was killed by SIGKILL\); restarted it \(restart 1 of 2\) and took every particle back to the checkpoint at epoch \d+$/,
    );
    const json = JSON.parse(r.stdout);
    expect(json.workerRestarts).toEqual([{ device: expect.stringMatching(/^cpu:[01]$/), reason: 'its process was killed by SIGKILL', particles: [expect.any(Number)], backToEpoch: expect.any(Number) }]);
    expect(particleFiles(dir)).toEqual(reference.files);
    expect(json.finalLoss).toEqual(reference.json.finalLoss);
    expect(json.metrics).toEqual(reference.json.metrics);
  });
});
