// Last-layer Laplace through the CLI, in child processes: train -> predict ->
// eval on two moons; far from the data its predictive entropy exceeds that of
// the deep ensemble of the same MAP networks (same seed, same epochs), with MC
// samples and with the probit approximation.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, pool, runCli, tempDir, ok } from './helpers';

jest.setTimeout(120000);

let work: string;
const W = (...p: string[]) => path.join(work, ...p);

beforeAll(() => {
  work = tempDir('laplace-cli');
  fs.writeFileSync(W('far.csv'), 'x1,x2\n6,6\n-5,4\n0,-6\n8,-3\n');
});
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const TRAIN = ['--data', 'two-moons:300', '--model', 'mlp:16,16', '--epochs', '15', '--particles', '2', '-b', '50', '--seed', '3', '-q'];

/** Entropy of each far point, from predict's CSV. */
async function farEntropy(dir: string): Promise<number[]> {
  const lines = ok(await runCli(['predict', '-c', dir, '--data', `csv:${W('far.csv')}`, '--modes', 'entropy'])).stdout.trim().split('\n');
  expect(lines[0]).toBe('row,x1,x2,entropy');
  return lines.slice(1).map((l) => Number(l.split(',')[3]));
}

test('train --algo laplace, predict and eval: more uncertain off the data than the MAP ensemble (MC and probit)', async () => {
  const runs: [string, string[]][] = [
    ['ensemble', ['--algo', 'ensemble']],
    ['mc', ['--algo', 'laplace', '--samples', '30']],
    ['probit', ['--algo', 'laplace', '--laplace-pred', 'probit']],
  ];
  await pool(runs, 2, async ([name, flags]) => void ok(await runCli(['train', ...flags, ...TRAIN, '--out', W(name)])));
  const ens = await farEntropy(W('ensemble'));
  for (const name of ['mc', 'probit']) {
    const lap = await farEntropy(W(name));
    lap.forEach((h, i) => expect({ name, i, more: h > ens[i] }).toEqual({ name, i, more: true }));
    expect(lap.reduce((a, b) => a + b, 0)).toBeGreaterThan(ens.reduce((a, b) => a + b, 0));
  }
  const e = JSON.parse(ok(await runCli(['eval', '-c', W('mc'), '--json'])).stdout);
  expect(e.metrics.bma.accuracy).toBeGreaterThan(0.8);
  expect(e.metrics.particles).toHaveLength(2);
  const manifest = JSON.parse(fs.readFileSync(W('probit', 'manifest.json'), 'utf8'));
  expect(manifest.options).toMatchObject({ hessian: 'full', priorPrecision: null, predictive: 'probit' });
  expect(manifest.particles[0].laplace).toMatchObject({ likelihood: 'classification', structure: 'full', H: 16, K: 2 });
});

test('bad laplace flags: one line, no stack, exit 2', async () => {
  const r = await runCli(['train', '--algo', 'laplace', '--laplace-hessian', 'kfac', ...TRAIN]);
  expect(r.code).toBe(2);
  expect(r.stderr.trim()).toBe('push-ens: error: --laplace-hessian "kfac": expected one of full, diag');
  const s = await runCli(['train', '--algo', 'laplace', '--laplace-pred', 'probit', '--data', 'sine', '--epochs', '1', '-q']);
  expect(s.code).not.toBe(0);
  expect(s.stderr).toMatch(/predictive "probit" is for classification/);
  expect(s.stderr).not.toMatch(/\n\s+at /);
});
