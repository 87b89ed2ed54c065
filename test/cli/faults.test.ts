// Faults through `push-ens train`: --on-nan stop/skip/reinit, --timeout
// (reported within the timeout plus 1 s), a worker killed mid-run (detected
// within 2 s; --resume then ends exactly where an uninterrupted run ends) and
// --restart-workers (the run goes on by itself, to the same result, whether the
// worker died, stopped answering, or died after the last epoch).
// test/cli/signals.test.ts covers exit 1, the one-line error and the valid
// checkpoint after a kill; this file adds the rest.
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

/** What a checkpoint's manifest records of the run's outcome. */
function results(dir: string): unknown {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  return { epoch: m.epoch, trainLosses: m.trainLosses, noiseVariance: m.noiseVariance, metrics: m.metrics };
}

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

test('--timeout: a worker that stops answering ends the run within the timeout plus 1 s, with exit 1 and one line; no process is left', async () => {
  const dir = path.join(work, 'timeout');
  let cli = 0;
  let stopped = 0;
  let stoppedAt = 0;
  const done = runCli(['train', '--epochs', '1000', '--particles', '2', '-b', '256', '--isolation', 'process', '--devices', 'cpu:0,cpu:1', '--timeout', '1500', '--out', dir, '--quiet'], {
    onSpawn: (p) => (cli = p),
  });
  try {
    await waitFor(() => epochOf(dir) >= 2, 30000, 'the second checkpoint');
    const workers = childPids(cli);
    expect(workers).toHaveLength(2);
    stopped = workers[1];
    process.kill(stopped, 'SIGSTOP');
    stoppedAt = Date.now();
    const r = await done;
    // The timeout kills the stopped worker at once: no grace period waits for it (it used to take the timeout + 4 s).
    expect(Date.now() - stoppedAt).toBeLessThan(1500 + 3000);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(
      // The worker may stop in an epoch or while the checkpoint reads its particles: both are handler calls.
      new RegExp(`^push-ens: error: message "(ensembleEpoch|bayesExport)" to device cpu:[01] got no answer within 1500 ms; the last complete checkpoint in ${dir} is valid; continue with --resume ${dir}$`),
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
  let reference: { files: Record<string, string>; json: { finalLoss: number[]; metrics: unknown }; manifest: unknown };

  beforeAll(async () => {
    const dir = path.join(work, 'reference');
    const r = await runCli([...RUN, '--out', dir]);
    if (r.code !== 0) throw new Error(`the uninterrupted run failed:\n${r.stderr}`);
    reference = { files: particleFiles(dir), json: JSON.parse(r.stdout), manifest: results(dir) };
  });

  /** Starts the run with process workers, kills (or stops) one worker once `afterEpochs` are checkpointed; resolves with the result and the kill time. */
  async function killedRun(dir: string, extra: string[], afterEpochs = 3, signal: NodeJS.Signals = 'SIGKILL') {
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
    process.kill(workers[0], signal);
    killedAt = Date.now();
    try {
      const r = await done;
      return { r, workers, detectionMs: reportedAt - killedAt };
    } finally {
      if (alive(workers[0])) process.kill(workers[0], 'SIGKILL');
    }
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

  test('--restart-workers with --timeout: a stopped (SIGSTOP) worker is killed at the timeout and restarted; same result', async () => {
    const dir = path.join(work, 'restarted-timeout');
    // 5 s: more than a first epoch (warm-up included) takes on a busy machine.
    const { r, workers } = await killedRun(dir, ['--restart-workers', '1', '--timeout', '5000'], 3, 'SIGSTOP');
    expect(r.code).toBe(0);
    const warnings = r.stderr.trim().split('\n');
    expect(warnings).toEqual([
      expect.stringMatching(/^push-ens: warning: device cpu:[01] worker died \(killed after no answer within 5000 ms\); restarted it \(restart 1 of 1\) and took every particle back to the checkpoint at epoch \d+$/),
    ]);
    expect(alive(workers[0])).toBe(false);
    const json = JSON.parse(r.stdout);
    expect(json.workerRestarts).toEqual([{ device: expect.stringMatching(/^cpu:[01]$/), reason: 'killed after no answer within 5000 ms', particles: [expect.any(Number)], backToEpoch: expect.any(Number) }]);
    expect(particleFiles(dir)).toEqual(reference.files);
    expect(json.finalLoss).toEqual(reference.json.finalLoss);
    expect(json.metrics).toEqual(reference.json.metrics);
  });

  test('--restart-workers covers the end of the run: a worker killed right after the last epoch (final evaluation, final save), 3 times', async () => {
    // Progress lines (no --json) tell when the last epoch is done; the kill lands in what follows it.
    const args = [...RUN.filter((a) => a !== '--json'), '--isolation', 'process', '--restart-workers', '2'];
    let restarted = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const dir = path.join(work, `restarted-final-${attempt}`);
      let cli = 0;
      let stderr = '';
      let victim = 0;
      const r = await runCli([...args, '--out', dir], {
        onSpawn: (p) => (cli = p),
        onStderr: (d) => {
          stderr += d;
          if (!victim && /^epoch 40\/40 /m.test(stderr)) {
            victim = childPids(cli)[attempt % 2];
            if (victim) process.kill(victim, 'SIGKILL');
          }
        },
      });
      expect(victim).toBeGreaterThan(0);
      if (r.code !== 0) throw new Error(`attempt ${attempt + 1} exited ${r.code}:\n${r.stderr}`);
      const restarts = r.stderr.split('\n').filter((l) => l.includes('restarted it (restart'));
      for (const line of restarts) expect(line).toMatch(/^push-ens: warning: device cpu:[01] worker died \(its process was killed by SIGKILL\); restarted it \(restart 1 of 2\) and took every particle back to the checkpoint at epoch (39|40)$/);
      restarted += restarts.length;
      expect(particleFiles(dir)).toEqual(reference.files);
      expect(results(dir)).toEqual(reference.manifest);
    }
    // Had every kill come after the run was over, this test would prove nothing.
    expect(restarted).toBeGreaterThan(0);
  });
});
