// The CLI end to end, in child processes: train -> checkpoint -> predict ->
// eval -> plot on 1-D regression, each algorithm on classification, --json,
// --quiet and the plain progress lines, and resume equal to an uninterrupted run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, FIXTURES, checkpointFile, parseXmlRoot, pathsOfGroup, pool, runCli, tempDir, ok, json } from './helpers';

jest.setTimeout(120000);

let work: string;
const W = (...p: string[]) => path.join(work, ...p);

beforeAll(() => {
  work = tempDir('e2e');
});
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('1-D regression: train -> checkpoint -> predict -> eval -> plot', () => {
  let trained: Record<string, any>;

  beforeAll(async () => {
    trained = json(await runCli(['train', '--data', 'toy', '--model', 'mlp:16,16', '--epochs', '40', '--particles', '3', '-b', '32', '--out', W('toy'), '--json']));
  });

  test('train --json reports time, throughput, final losses and BMA next to particle metrics', () => {
    expect(trained).toMatchObject({ command: 'train', algo: 'ensemble', particles: 3, devices: ['cpu:0'], loss: 'mse', epochs: 40, batchSize: 32, checkpoint: W('toy') });
    expect(trained.data).toEqual({ spec: 'toy', task: 'regression', train: 102, test: 26, standardized: false });
    expect(trained.model).toEqual({ spec: 'mlp:16,16', parameters: 1 * 16 + 16 + 16 * 16 + 16 + 16 + 1 });
    expect(trained.seconds).toBeGreaterThan(0);
    expect(trained.particleSteps).toBe(3 * 4 * 40);
    expect(trained.particleStepsPerSecond).toBeGreaterThan(0);
    expect(trained.finalLoss).toHaveLength(3);
    expect(trained.metrics.split).toBe('test');
    expect(Object.keys(trained.metrics.bma).sort()).toEqual(['nll', 'rmse']);
    expect(trained.metrics.particles).toHaveLength(3);
    // The toy curve is learnable: the BMA beats predicting the mean by far.
    expect(trained.metrics.bma.rmse).toBeLessThan(0.3);
    // MSE is convex: the BMA is no worse than the average member.
    const meanMember = trained.metrics.particles.reduce((s: number, p: any) => s + p.rmse ** 2, 0) / 3;
    expect(trained.metrics.bma.rmse ** 2).toBeLessThanOrEqual(meanMember + 1e-9);
    const manifest = JSON.parse(fs.readFileSync(W('toy', 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'push-ens/checkpoint', algorithm: 'ensemble', epoch: 40 });
    expect(manifest.meta.cli.data).toMatchObject({ spec: 'toy', seed: 0, task: 'regression', testFraction: 0.2 });
  });

  test('predict writes CSV with the inputs and the asked modes', async () => {
    const r = ok(await runCli(['predict', '-c', W('toy'), '--modes', 'mean,std,pred', '--out', W('pred.csv')]));
    expect(r.stdout).toMatch(/^wrote 26 rows .* to .*pred\.csv/);
    const lines = fs.readFileSync(W('pred.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row,x,mean,std,pred_m0,pred_m1,pred_m2');
    expect(lines).toHaveLength(27);
    const cells = lines[1].split(',').map(Number);
    expect(cells.every(Number.isFinite)).toBe(true);
    const members = cells.slice(4);
    expect(cells[2]).toBeCloseTo(members.reduce((a, b) => a + b, 0) / 3, 5);
    // No temporary file is left next to the output.
    expect(fs.readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  test('predict on an inputs-only CSV, and as JSON on stdout', async () => {
    fs.writeFileSync(W('inputs.csv'), 'x\n-1\n0.25\n3\n');
    const r = json(await runCli(['predict', '-c', W('toy'), '--data', `csv:${W('inputs.csv')}`, '--json']));
    expect(r.rows).toBe(3);
    expect(r.modes.mean.shape).toEqual([3, 1]);
    expect(r.modes.std.shape).toEqual([3, 1]);
    // Far from the data (x = 3) the members disagree more than inside it (x = 0.25).
    expect(r.modes.std.data[2][0]).toBeGreaterThan(r.modes.std.data[1][0]);
  });

  test('eval reproduces the metrics train reported', async () => {
    const r = json(await runCli(['eval', '-c', W('toy'), '--json', '--devices', 'cpu:0,cpu:1']));
    expect(r.split).toBe('test');
    expect(r.examples).toBe(26);
    expect(r.metrics.bma.rmse).toBeCloseTo(trained.metrics.bma.rmse, 5);
    expect(r.metrics.bma.nll).toBeCloseTo(trained.metrics.bma.nll, 4);
    const text = ok(await runCli(['eval', '-c', W('toy'), '-q']));
    expect(text.stdout).toMatch(/^\s+test rmse\s+test nll\nBMA\s/);
    expect(text.stdout).toMatch(/particle 2/);
    expect(text.stderr).toBe('');
  });

  test('plot writes an SVG that parses and holds the band, the mean, the particles and the data', async () => {
    const r = json(await runCli(['plot', '-c', W('toy'), '--out', W('toy.svg'), '--json']));
    expect(r).toMatchObject({ command: 'plot', kind: 'regression', points: 200, members: 3 });
    // The x range is wider than the data's [-0.5, 1].
    expect(r.range[0]).toBeLessThan(-0.9);
    expect(r.range[1]).toBeGreaterThan(1.4);
    const svg = fs.readFileSync(W('toy.svg'), 'utf8');
    expect(parseXmlRoot(svg)).toBe('svg');
    const band = pathsOfGroup(svg, 'band_marks');
    expect(band).toHaveLength(1);
    expect(band[0].length).toBeGreaterThan(200);
    expect(pathsOfGroup(svg, 'bma_mean_marks')).toHaveLength(1);
    expect(svg.match(/particles_marks/g)).toHaveLength(3);
    expect(svg).toContain('data_marks');
  });

  test('plot can write PNG', async () => {
    ok(await runCli(['plot', '-c', W('toy'), '--out', W('toy.png'), '--quiet']));
    const png = fs.readFileSync(W('toy.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });
});

describe('each algorithm on classification', () => {
  const algos: [string, string[]][] = [
    ['ensemble', ['--bootstrap']],
    ['mswag', ['--swag-epochs', '2', '--samples', '3', '--rank', '2']],
    ['svgd', ['--bandwidth', 'median']],
    ['mcdropout', ['--dropout', '0.2', '--samples', '3']],
    ['sgld', ['--step-size', '5e-3', '--burn-in', '3', '--max-samples', '3', '--precondition']],
    ['cyclical', ['--step-size', '5e-3', '--cycles', '2', '--max-samples', '4']],
    ['sghmc', ['--step-size', '5e-4', '--friction', '0.1', '--burn-in', '3', '--max-samples', '3']],
  ];
  // Two at a time (two cores): train, eval and plot each algorithm, then check.
  const runs = new Map<string, { t: Record<string, any>; e: Record<string, any>; p: Record<string, any>; svg: string }>();
  beforeAll(async () => {
    await pool(algos, 2, async ([algo, extra]) => {
      const dir = W(`moons-${algo}`);
      const t = json(await runCli(['train', '--algo', algo, ...extra, '--data', 'two-moons:200', '--model', 'mlp:8', '--epochs', '6', '--particles', '2', '-b', '40', '--out', dir, '--json']));
      const e = json(await runCli(['eval', '-c', dir, '--json']));
      const p = json(await runCli(['plot', '-c', dir, '--out', W(`moons-${algo}.svg`), '--json']));
      runs.set(algo, { t, e, p, svg: fs.readFileSync(W(`moons-${algo}.svg`), 'utf8') });
    });
  });

  test.each(algos)('%s: train --json, eval and a reliability diagram', (algo) => {
    const { t, e, p, svg } = runs.get(algo)!;
    expect(t.algo).toBe(algo);
    expect(t.data.task).toBe('classification');
    expect(Object.keys(t.metrics.bma).sort()).toEqual(['accuracy', 'brier', 'ece', 'nll']);
    expect(t.metrics.particles).toHaveLength(2);
    expect(t.metrics.bma.accuracy).toBeGreaterThan(0.6);
    expect(e.metrics.bma.accuracy).toBeCloseTo(t.metrics.bma.accuracy, 6);
    expect(p).toMatchObject({ kind: 'reliability', split: 'test', examples: 40, bins: 15 });
    expect(p.ece).toBeCloseTo(t.metrics.bma.ece, 5);
    expect(parseXmlRoot(svg)).toBe('svg');
    expect(svg).toContain('bins_marks');
    expect(svg).toContain('ECE');
  });

  test('predict classification modes, with class names from a CSV', async () => {
    const dir = W('colors');
    ok(await runCli(['train', '--data', `csv:${FIXTURES}/colors.csv`, '--task', 'classification', '--model', 'mlp:8', '--epochs', '15', '--particles', '2', '-b', '24', '--out', dir, '-q']));
    // Trained on a file: predict reads it again only when named with --data.
    const r = ok(await runCli(['predict', '-c', dir, '--data', `csv:${FIXTURES}/colors.csv`, '--modes', 'mean_prob,mode,entropy,mutual_info', '--split', 'all']));
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('row,a,b,mean_prob_blue,mean_prob_green,mean_prob_red,mode,entropy,mutual_info');
    expect(lines).toHaveLength(91);
    const modes = new Set(lines.slice(1).map((l) => l.split(',')[6]));
    expect([...modes].every((m) => ['blue', 'green', 'red'].includes(m))).toBe(true);
  });
});

describe('output modes', () => {
  test('not a TTY: one plain log line per epoch on stderr; the result on stdout', async () => {
    const r = ok(await runCli(['train', '--epochs', '3', '--particles', '2']));
    const epochs = r.stderr.split('\n').filter((l) => l.startsWith('epoch'));
    expect(epochs).toHaveLength(3);
    for (const [i, l] of epochs.entries()) expect(l).toMatch(new RegExp(`^epoch ${i + 1}/3  loss \\d+\\.\\d+  \\d+ particle-steps/s$`));
    expect(r.stdout).toMatch(/particle-steps\/s/);
    expect(r.stdout).toMatch(/^BMA\s/m);
  });

  test('--quiet: nothing but the final result', async () => {
    const r = ok(await runCli(['train', '--epochs', '2', '--particles', '2', '--quiet']));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^trained epochs 1-2/);
  });

  test('--json: exactly one JSON object on stdout, nothing on stderr', async () => {
    const r = await runCli(['train', '--epochs', '2', '--particles', '2', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const obj = JSON.parse(r.stdout);
    expect(obj.command).toBe('train');
    expect(obj.data).toMatchObject({ spec: 'seed-random', train: 1024, test: 256 });
    expect(obj.model).toEqual({ spec: 'biggerNN:10,20', parameters: 8421 });
    expect(obj).toMatchObject({ loss: 'mse', epochs: 2, batchSize: 128, checkpoint: null });
  });

  test('--standardize reports metrics and predictions in original units', async () => {
    const dir = W('toy-std');
    const t = json(await runCli(['train', '--data', 'toy', '--standardize', '--model', 'mlp:16', '--epochs', '30', '--particles', '2', '-b', '32', '--out', dir, '--json']));
    expect(t.data.standardized).toBe(true);
    expect(t.metrics.bma.rmse).toBeLessThan(0.5);
    const p = json(await runCli(['predict', '-c', dir, '--split', 'train', '--json']));
    const means: number[] = p.modes.mean.data.map((r: number[]) => r[0]);
    // toy targets lie in about [-1, 1.1]; standardized units would be centred on 0 with unit spread.
    expect(Math.min(...means)).toBeLessThan(-0.6);
    expect(Math.max(...means)).toBeGreaterThan(0.7);
  });
});

test('gaussian-nll: the aleatoric_var and epistemic_var split, and a plot of the member means', async () => {
  const dir = W('toy-gnll');
  const t = json(await runCli(['train', '--data', 'toy', '--loss', 'gaussian-nll', '--model', 'mlp:16', '--epochs', '20', '--particles', '2', '-b', '32', '--out', dir, '--json']));
  expect(t.loss).toBe('gaussian-nll');
  const p = json(await runCli(['predict', '-c', dir, '--modes', 'mean,variance,aleatoric_var,epistemic_var', '--json']));
  const [v, a, e] = ['variance', 'aleatoric_var', 'epistemic_var'].map((m) => p.modes[m].data.map((r: number[]) => r[0]));
  for (let i = 0; i < v.length; i++) expect(v[i]).toBeCloseTo(a[i] + e[i], 5);
  const plot = json(await runCli(['plot', '-c', dir, '--out', W('gnll.svg'), '--json']));
  expect(plot).toMatchObject({ members: 2, curves: 2 });
  expect(parseXmlRoot(fs.readFileSync(W('gnll.svg'), 'utf8'))).toBe('svg');
});

describe('resume', () => {
  test('a run resumed from its checkpoint ends where an uninterrupted run ends', async () => {
    const common = ['--data', 'toy', '--model', 'mlp:8', '--particles', '2', '-b', '32', '--seed', '7'];
    const [whole, half] = await Promise.all([
      runCli(['train', ...common, '--epochs', '6', '--out', W('whole'), '--json']),
      runCli(['train', ...common, '--epochs', '3', '--out', W('half'), '--quiet']),
    ]);
    const a = json(whole);
    ok(half);
    const b = json(await runCli(['train', '--resume', W('half'), '--epochs', '6', '--json']));
    expect(b.startEpoch).toBe(3);
    expect(b.particleSteps).toBe(2 * 4 * 3);
    expect(b.finalLoss).toEqual(a.finalLoss);
    expect(b.metrics).toEqual(a.metrics);
    for (const f of ['particle-000.params.f32', 'particle-001.params.f32', 'particle-001.optimizer.f32']) {
      expect(fs.readFileSync(checkpointFile(W('half'), f)).equals(fs.readFileSync(checkpointFile(W('whole'), f)))).toBe(true);
    }
  });
});
