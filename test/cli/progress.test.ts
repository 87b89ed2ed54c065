// The training progress display: the bar's text (steps, loss, particle-steps/s,
// ETA), its once-a-second redraw between reports, the plain lines, and the
// throttle devices use for their reports.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { Progress, StepProgress, formatDuration, renderBar } from '../../src/cli/progress';
import { Throttle } from '../../src/bayes/progress';
import { CLI } from './helpers';

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((f) => fs.existsSync(f));

const strip = (s: string) => s.replace(/^\r\x1b\[2K/, '');

function sink(isTTY: boolean, columns = 120): { out: string[]; stream: { isTTY: boolean; columns: number; write(s: string): void } } {
  const out: string[] = [];
  return { out, stream: { isTTY, columns, write: (s: string) => void out.push(s) } };
}

const report = (over: Partial<StepProgress>): StepProgress => ({
  epoch: 2,
  epochs: 3,
  stepsDone: 120,
  stepsTotal: 469,
  particleStepsDone: 480,
  particleStepsTotal: 1876,
  loss: 0.43123,
  seconds: 0.6,
  ...over,
});

describe('progress bar', () => {
  test('durations: seconds, minutes, hours', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(72)).toBe('1m12s');
    expect(formatDuration(605)).toBe('10m05s');
    expect(formatDuration(2 * 3600 + 5 * 60 + 9)).toBe('2h05m');
    expect(formatDuration(-3)).toBe('0s');
  });

  test('a bar line shows steps, loss, particle-steps/s and ETA, within the terminal width', () => {
    const line = renderBar({ epoch: 2, epochs: 3, fraction: 0.42, steps: { done: 120, total: 469 }, loss: 0.43123, rate: 812.3, etaSeconds: 72 }, 120);
    expect(line).toMatch(/^epoch 2\/3 \[#+-+\] 120\/469 steps {2}loss 0\.4312 {2}812 particle-steps\/s {2}ETA 1m12s$/);
    const bar = /\[(#*)(-*)\]/.exec(line)!;
    expect(bar[1].length / (bar[1].length + bar[2].length)).toBeCloseTo(0.42, 1);
    expect(renderBar({ epoch: 2, epochs: 3, fraction: 0.5, steps: { done: 1, total: 469 }, loss: 1, rate: 9, etaSeconds: 9, phase: 'swag' }, 40).length).toBeLessThanOrEqual(39);
    // On an 80-column terminal every word still fits: the bar narrows first...
    const narrow = renderBar({ epoch: 1, epochs: 3, fraction: 0.1, steps: { done: 1019, total: 1024 }, loss: 1.0512, rate: 151, etaSeconds: 72, phase: 'swag' }, 80);
    expect(narrow).toMatch(/^epoch 1\/3 \[#*-+\] 1019\/1024 steps {2}loss 1\.051 {2}151 particle-steps\/s {2}ETA 1m12s$/);
    // ...then the phase and the loss give way to the rate and the ETA.
    const wide = renderBar({ epoch: 10, epochs: 100, fraction: 0.1, steps: { done: 1019, total: 1024 }, loss: 0.0012345, rate: 12345, etaSeconds: 3 * 3600, phase: 'pretrain' }, 80);
    expect(wide.length).toBeLessThanOrEqual(79);
    expect(wide).toMatch(/\[#*-+\] 1019\/1024 steps {2}12345 particle-steps\/s {2}ETA 3h00m$/);
    // Steps keep their width as they grow: the line does not jump.
    expect(renderBar({ epoch: 1, epochs: 3, fraction: 0, steps: { done: 7, total: 469 } }, 120)).toMatch(/ {2}7\/469 steps$/);
  });

  test('the bar moves within an epoch: each report redraws it, with a running rate and an ETA for the whole run', () => {
    let now = 1000;
    const { out, stream } = sink(true);
    const p = new Progress('bar', stream, { now: () => now, refreshMs: 60_000 });
    p.start(3);
    expect(strip(out[0])).toMatch(/^epoch 1\/3 \[-+\]$/);
    p.step(report({}));
    const line = strip(out[out.length - 1]);
    // 480 particle-steps in 0.6 s; left: 1396 of this epoch + 1876 of epoch 3 = 3272 at 800/s.
    expect(line).toMatch(/^epoch 2\/3 \[#+-+\] 120\/469 steps {2}loss 0\.4312 {2}800 particle-steps\/s {2}ETA 4s$/);
    now += 2000;
    p.step(report({ stepsDone: 300, particleStepsDone: 1200, seconds: 1.5, loss: 0.4 }));
    expect(strip(out[out.length - 1])).toMatch(/ 300\/469 steps {2}loss 0\.4 {2}800 particle-steps\/s {2}ETA 3s$/);
    p.finish();
    expect(out[out.length - 1]).toBe('\n');
  });

  test('between reports the timer redraws the bar at least once a second, the ETA counting down', async () => {
    let now = 0;
    const { out, stream } = sink(true);
    const p = new Progress('bar', stream, { now: () => now, refreshMs: 20 });
    p.start(1);
    p.step(report({ epoch: 1, epochs: 1, stepsDone: 10, stepsTotal: 100, particleStepsDone: 10, particleStepsTotal: 100, seconds: 10 }));
    expect(strip(out[out.length - 1])).toMatch(/ETA 1m30s$/);
    const before = out.length;
    now = 30_000;
    await new Promise((r) => setTimeout(r, 200));
    p.finish();
    const redraws = out.slice(before, -1);
    expect(redraws.length).toBeGreaterThanOrEqual(2);
    expect(strip(redraws[redraws.length - 1])).toMatch(/ 10\/100 steps .* ETA 1m00s$/);
    // Finished: no more redraws.
    const after = out.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(out.length).toBe(after);
  });

  test('the epoch line says particle-steps/s; plain lines stay one per epoch unless asked for more', () => {
    let now = 0;
    const quiet = sink(false);
    const lines = new Progress('lines', quiet.stream, { now: () => now });
    lines.start(3);
    for (let k = 1; k <= 5; k++) {
      now += 5000;
      lines.step(report({ stepsDone: k * 10 }));
    }
    lines.epoch({ epoch: 2, epochs: 3, loss: 0.4, particleStepsPerSecond: 812 });
    lines.finish();
    expect(quiet.out).toEqual(['epoch 2/3  loss 0.4  812 particle-steps/s\n']);

    now = 0;
    const verbose = sink(false);
    const every = new Progress('lines', verbose.stream, { now: () => now, lineEveryMs: 10_000 });
    every.start(3);
    for (let k = 1; k <= 5; k++) {
      now += 5000;
      every.step(report({ stepsDone: k * 10, particleStepsDone: k * 40 }));
    }
    every.finish();
    // Reports at 5, 10, 15, 20, 25 s: lines at 5, 15 and 25 s.
    expect(verbose.out).toHaveLength(3);
    expect(verbose.out[0]).toMatch(/^epoch 2\/3 {2}10\/469 steps {2}loss 0\.4312 {2}\d+ particle-steps\/s {2}ETA \S+\n$/);
  });

  test('throttle: true at most once per interval', () => {
    let now = 0;
    const t = new Throttle(250, () => now);
    const fired: number[] = [];
    for (now = 0; now <= 1000; now += 10) if (t.due()) fired.push(now);
    expect(fired).toEqual([0, 250, 500, 750, 1000]);
  });
});

// `script` (util-linux) gives the CLI a pseudo-terminal, so it draws the bar.
(SCRIPT ? describe : describe.skip)('push-ens train on a terminal', () => {
  test('the bar shows steps, particle-steps/s and ETA in the middle of the epoch', async () => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} train --epochs 1 -b 1 --particles 2`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(SCRIPT!, ['-qec', cmd, '/dev/null'], { timeout: 90_000, maxBuffer: 16 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    const frames = out.split(/\r/).map((f) => f.replace(/^\x1b\[2K/, '').trim());
    const mid = frames.filter((f) => /^epoch 1\/1 \[#*-+\] +(\d+)\/1024 steps {2}loss \S+ {2}\d+ particle-steps\/s {2}ETA \d/.test(f) && !f.includes(' 1024/1024 '));
    expect(mid.length).toBeGreaterThan(0);
    const done = frames.findIndex((f) => f.startsWith('trained epochs 1-1'));
    expect(done).toBeGreaterThan(frames.indexOf(mid[0]));
    expect(out).not.toMatch(/ steps\/s/);
  }, 120_000);
});
