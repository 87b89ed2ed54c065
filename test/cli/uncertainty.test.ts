// Uncertainty through the real CLI: train --val-fraction, calibrate (temperature
// on an over-confident MNIST model, variance scale on regression), eval with
// calibrated figures, --ood against Fashion-MNIST and --conformal coverage,
// predict with conformal sets and intervals, plot --ood / --calibration, and
// one-line errors for bad input.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, editManifest, errorLine, pool, runCli, tempDir, ok, json } from './helpers';

jest.setTimeout(120000);

let work: string;
const W = (...p: string[]) => path.join(work, ...p);

beforeAll(async () => {
  work = tempDir('uq');
  // Over-confident: a small MLP trained long on 300 MNIST digits; 300 more are held out for calibration.
  // Regression with a variance head and a validation split; and a checkpoint without one.
  await Promise.all([
    runCli(['train', '--data', 'mnist:600,300', '--val-fraction', '0.5', '--model', 'mlp:32', '--particles', '2', '--epochs', '60', '-b', '50', '--out', W('mnist'), '-q']).then(ok),
    runCli(['train', '--data', 'toy', '--loss', 'gaussian-nll', '--val-fraction', '0.3', '--model', 'mlp:16,16', '--particles', '2', '--epochs', '60', '-b', '32', '--out', W('toy'), '-q']).then(ok),
    runCli(['train', '--data', 'two-moons:120', '--model', 'mlp:8', '--particles', '2', '--epochs', '3', '--out', W('moons'), '-q']).then(ok),
  ]);
});
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('classification: calibrate, eval, predict, plot', () => {
  let cal: Record<string, any>;
  beforeAll(async () => {
    cal = json(await runCli(['calibrate', '-c', W('mnist'), '--json']));
  });

  test('calibrate fits a temperature > 1 on the validation split and stores it with the conformal scores', () => {
    expect(cal).toMatchObject({ command: 'calibrate', task: 'classification', source: 'val split of mnist:600,300', fitExamples: 150, conformalExamples: 150 });
    expect(cal.temperature).toBeGreaterThan(1.2); // the model is over-confident
    expect(cal.fit.nllAfter).toBeLessThan(cal.fit.nllBefore);
    const m = JSON.parse(fs.readFileSync(W('mnist', 'manifest.json'), 'utf8'));
    expect(m.calibration.temperature).toBe(cal.temperature);
    expect(m.calibration.conformal.aps).toHaveLength(150);
    expect(m.generation).toBeGreaterThan(1); // a new generation of the checkpoint
  });

  test('eval: temperature scaling lowers ECE and NLL on the MNIST test split; OOD and conformal figures', async () => {
    const [asJson, asText] = await Promise.all([
      runCli(['eval', '-c', W('mnist'), '--ood', 'fashion-mnist:0,300', '--conformal', '0.1', '--json']),
      runCli(['eval', '-c', W('mnist'), '--ood', 'fashion-mnist:0,300', '-q']).then(ok),
    ]);
    const r = json(asJson);
    expect(r.calibration.temperature).toBe(cal.temperature);
    const { uncalibrated: before, calibrated: after } = r.calibration;
    expect(after.accuracy).toBe(before.accuracy);
    expect(after.ece).toBeLessThan(before.ece);
    expect(after.nll).toBeLessThan(before.nll);
    expect(before.ece).toBeCloseTo(r.metrics.bma.ece, 5);
    expect(Object.keys(r.ood.metrics).sort()).toEqual(['entropy', 'max_prob', 'mutual_info']);
    for (const m of Object.values(r.ood.metrics) as any[]) {
      expect(m.auroc).toBeGreaterThan(0.6);
      expect(m.fpr95).toBeLessThan(1);
    }
    expect(r.ood).toMatchObject({ inExamples: 300, outExamples: 300, split: 'test' });
    const sel = r.ood.selective.max_prob;
    expect(sel.aurc).toBeLessThan(1 - before.accuracy); // ranking by confidence beats keeping everything
    expect(sel.accuracyRejection.accuracy[10]).toBeGreaterThan(before.accuracy);
    expect(r.conformal).toMatchObject({ alpha: 0.1, method: 'aps', calibrationExamples: 150 });
    expect(r.conformal.coverage).toBeGreaterThan(0.8);
    expect(r.conformal.meanSize).toBeGreaterThan(1);
    const text = asText.stdout;
    expect(text).toMatch(/^OOD: 300 in-distribution examples against 300 of fashion-mnist:0,300 \(test split\)/m);
    expect(text).toMatch(/^temperature \d/m);
  });

  test('predict applies the temperature (same arg-max), --uncalibrated does not; --conformal adds sets', async () => {
    const [cal1] = await Promise.all([
      runCli(['predict', '-c', W('mnist'), '--modes', 'mean_prob', '--conformal', '0.2', '--conformal-method', 'lac', '--out', W('p.csv')]).then(ok),
      runCli(['predict', '-c', W('mnist'), '--modes', 'mean_prob', '--uncalibrated', '--out', W('raw.csv')]).then(ok),
    ]);
    expect(cal1.stdout).toMatch(/wrote 300 rows/);
    const rows = (f: string) => fs.readFileSync(W(f), 'utf8').trim().split('\n').map((l) => l.split(','));
    const [h, ...a] = rows('p.csv');
    const [hr, ...b] = rows('raw.csv');
    expect(h.slice(-2)).toEqual(['set', 'set_size']);
    expect(hr).toEqual(h.slice(0, -2));
    const argmax = (row: string[]) => {
      const p = row.slice(1, 11).map(Number);
      return p.indexOf(Math.max(...p));
    };
    let differ = 0;
    for (let i = 0; i < a.length; i++) {
      expect(argmax(a[i])).toBe(argmax(b[i]));
      if (a[i][1] !== b[i][1]) differ++;
      const set = a[i][h.length - 2] === '' ? [] : a[i][h.length - 2].split('|');
      expect(set.length).toBe(Number(a[i][h.length - 1]));
      // LAC keeps every class with calibrated probability >= 1 - q-hat: the arg-max is in any non-empty set.
      if (set.length > 0) expect(set).toContain(String(argmax(a[i])));
    }
    expect(differ).toBeGreaterThan(a.length / 2);
  });

  test('plot --ood draws histograms and ROC curves as PNG', async () => {
    const r = json(await runCli(['plot', '-c', W('mnist'), '--ood', 'fashion-mnist:0,200', '--out', W('ood.png'), '--json']));
    expect(r).toMatchObject({ kind: 'ood', inExamples: 300, outExamples: 200 });
    expect(Object.keys(r.auroc).sort()).toEqual(['entropy', 'max_prob', 'mutual_info']);
    expect(fs.readFileSync(W('ood.png')).subarray(1, 4).toString()).toBe('PNG');
  });
});

describe('regression: variance scale, intervals, coverage plot', () => {
  test('calibrate, eval (PICP, widths, quantile calibration error, conformal width), predict intervals, plot --calibration', async () => {
    const cal = json(await runCli(['calibrate', '-c', W('toy'), '--json']));
    expect(cal.varianceScale).toBeGreaterThan(0);
    expect(cal.fit.nllAfter).toBeLessThanOrEqual(cal.fit.nllBefore + 1e-9);
    const r = json(await runCli(['eval', '-c', W('toy'), '--conformal', '0.2', '--ood', 'toy', '--json']));
    expect(r.calibration.uncalibrated.intervals.map((i: any) => i.level)).toEqual([0.5, 0.9, 0.95]);
    expect(r.calibration.calibrated.intervals[2].meanWidth / r.calibration.uncalibrated.intervals[2].meanWidth).toBeCloseTo(Math.sqrt(cal.varianceScale), 4);
    expect(r.calibration.uncalibrated.quantileCalibrationError).toBeGreaterThanOrEqual(0);
    expect(r.conformal.meanWidth).toBeGreaterThan(0);
    expect(Object.keys(r.ood.metrics).sort()).toEqual(['std_epistemic', 'std_total']);
    const p = json(await runCli(['predict', '-c', W('toy'), '--conformal', '0.2', '--json']));
    const { lower, upper, qhat } = p.conformal;
    expect(lower).toHaveLength(26);
    for (let i = 0; i < 26; i++) expect(upper[i]).toBeGreaterThan(lower[i]);
    expect(qhat).toHaveLength(1);
    const plot = json(await runCli(['plot', '-c', W('toy'), '--calibration', '--out', W('cal.svg'), '--json']));
    expect(plot.coverage.observedCalibrated).toHaveLength(19);
    expect(fs.readFileSync(W('cal.svg'), 'utf8')).toContain('observed coverage');
  });
});

describe('calibrate --data: held-out data from another spec', () => {
  test('uses all of its examples and names it as the source', async () => {
    fs.cpSync(W('moons'), W('moons-cal'), { recursive: true });
    const cal = json(await runCli(['calibrate', '-c', W('moons-cal'), '--data', 'two-moons:200', '--json']));
    expect(cal).toMatchObject({ task: 'classification', source: 'two-moons:200', fitExamples: 100, conformalExamples: 100 });
    expect(cal.temperature).toBeGreaterThan(0);
    const r = json(await runCli(['eval', '-c', W('moons-cal'), '--conformal', '0.2', '--conformal-method', 'lac', '--json']));
    expect(r.conformal).toMatchObject({ alpha: 0.2, method: 'lac', calibrationExamples: 100 });
    expect(r.conformal.coverage).toBeGreaterThan(0.6);
  });
});

describe('bad input: one line, exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['alpha out of (0, 1)', ['eval', '-c', 'mnist', '--conformal', '1.5'], /^push-ens: error: --conformal "1.5": expected a number in \(0, 1\)$/],
    ['alpha 0', ['predict', '-c', 'mnist', '--conformal', '0'], /--conformal "0": expected a number in \(0, 1\)/],
    ['conformal method', ['eval', '-c', 'mnist', '--conformal', '0.1', '--conformal-method', 'raps'], /--conformal-method "raps": expected one of lac, aps/],
    ['method without alpha', ['predict', '-c', 'mnist', '--conformal-method', 'lac'], /--conformal-method applies with --conformal ALPHA/],
    ['method for regression', ['predict', '-c', 'toy', '--conformal', '0.1', '--conformal-method', 'lac'], /--conformal-method applies to classification/],
    ['OOD of another input shape', ['eval', '-c', 'mnist', '--ood', 'toy'], /--ood "toy" has inputs of shape \[1\], but the checkpoint's model takes inputs of shape \[28, 28, 1\]/],
    ['OOD spec malformed', ['eval', '-c', 'mnist', '--ood', 'fashion-mnist:x'], /^push-ens: error: --ood: data spec "fashion-mnist:x"/],
    ['calibrate without a validation split', ['calibrate', '-c', 'moons'], /checkpoint ".*moons" has no validation split to calibrate on: train with --val-fraction F/],
    ['conformal before calibrate', ['eval', '-c', 'moons', '--conformal', '0.1'], /--conformal needs a calibrated checkpoint: run push-ens calibrate/],
    ['--split val without one', ['eval', '-c', 'moons', '--split', 'val'], /--split val: the checkpoint has no validation split/],
    ['--val-fraction out of range', ['train', '--val-fraction', '1'], /--val-fraction "1": expected a number in \[0, 1\)/],
    ['plot --calibration on classification', ['plot', '-c', 'moons', '--calibration', '--out', 'x.svg'], /--calibration draws the regression calibration plot/],
  ];
  test('each case', async () => {
    const results = await pool(cases, 3, ([, args]) => runCli(args.map((a, i) => (args[i - 1] === '-c' ? W(a) : a)), { cwd: work }));
    results.forEach((r, i) => {
      const [name, , pattern] = cases[i];
      expect({ name, code: r.code, stdout: r.stdout }).toEqual({ name, code: 2, stdout: '' });
      expect(errorLine(r)).toMatch(pattern);
    });
  });

  test('a malformed stored calibration is a one-line corrupt-checkpoint error', async () => {
    fs.cpSync(W('toy'), W('toy-bad'), { recursive: true });
    editManifest(W('toy-bad'), (m) => {
      (m.calibration as Record<string, unknown>).varianceScale = -1;
    });
    const r = await runCli(['eval', '-c', W('toy-bad')]);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toMatch(/manifest.json field calibration varianceScale is -1: the checkpoint is corrupt/);
  });
});
