// Table-driven bad input for the CLI (cases in bad-input-cases.ts): each must
// print one line on stderr ("push-ens: error: ..." naming the bad value and
// what was expected), nothing on stdout, exit non-zero (2 for input errors),
// and leave the disk as it was.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BAD_INPUT_CASES, BadInputCase } from './bad-input-cases';
import { CliResult, FIXTURES, checkpointFile, editManifest, errorLine, pool, runCli, snapshot, tempDir } from './helpers';

jest.setTimeout(120000);

let work: string;
const results = new Map<string, { r: CliResult; cwd: string }>();
let fixturesBefore: Record<string, string>;
let workBefore: Record<string, string>;

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

async function makeCheckpoints(): Promise<void> {
  const ckpt = path.join(work, 'ckpt');
  const [a, b] = await Promise.all([
    runCli(['train', '--data', 'toy', '--model', 'mlp:8', '--epochs', '2', '--particles', '2', '--out', ckpt, '--quiet']),
    runCli(['train', '--data', `csv:${FIXTURES}/curve.csv`, '--model', 'mlp:4', '--epochs', '1', '--particles', '2', '--out', path.join(work, 'ckpt-csv'), '--quiet']),
  ]);
  if (a.code !== 0 || b.code !== 0) throw new Error(`could not make the test checkpoints:\n${a.stderr}\n${b.stderr}`);

  fs.mkdirSync(path.join(work, 'no-manifest'));
  fs.writeFileSync(path.join(work, 'no-manifest', 'weights.bin'), 'x');
  fs.mkdirSync(path.join(work, 'foreign'));
  fs.writeFileSync(path.join(work, 'foreign', 'manifest.json'), JSON.stringify({ format: 'someone-else/model', version: 3 }));

  copyDir(ckpt, path.join(work, 'garbled'));
  fs.writeFileSync(path.join(work, 'garbled', 'manifest.json'), '{"format": "push-ens/checkpoint", ');

  copyDir(ckpt, path.join(work, 'future'));
  editManifest(path.join(work, 'future'), (m) => (m.formatVersion = 99));

  copyDir(ckpt, path.join(work, 'truncated'));
  const params = checkpointFile(path.join(work, 'truncated'), 'particle-000.params.f32');
  fs.truncateSync(params, Math.floor(fs.statSync(params).size / 2));

  copyDir(ckpt, path.join(work, 'flipped'));
  const flip = checkpointFile(path.join(work, 'flipped'), 'particle-001.params.f32');
  const bytes = fs.readFileSync(flip);
  bytes[8] ^= 0xff;
  fs.writeFileSync(flip, bytes);

  copyDir(ckpt, path.join(work, 'edited'));
  editManifest(path.join(work, 'edited'), (m) => (m.numParams = (m.numParams as number) + 1));

  // Another architecture (16 hidden units instead of 8), consistently described, over the old weights.
  copyDir(ckpt, path.join(work, 'other-arch'));
  editManifest(path.join(work, 'other-arch'), (m) => {
    const model = m.model as { layers: { type: string; units?: number }[] };
    model.layers[0].units = 16;
    m.numParams = 1 * 16 + 16 + 16 * 1 + 1;
  });

  copyDir(ckpt, path.join(work, 'bad-meta'));
  editManifest(path.join(work, 'bad-meta'), (m) => ((m.meta as { cli: Record<string, unknown> }).cli.data = 'toy'));
}

function expand(arg: string, cwd: string): string {
  return arg.replace(/\{F\}/g, FIXTURES).replace(/\{W\}/g, work).replace(/\{C\}/g, cwd);
}

beforeAll(async () => {
  work = tempDir('bad');
  await makeCheckpoints();
  fixturesBefore = snapshot(FIXTURES);
  workBefore = snapshot(work);
  fs.mkdirSync(path.join(work, '..', path.basename(work) + '-cases'));
  const casesRoot = path.join(work, '..', path.basename(work) + '-cases');
  await pool(BAD_INPUT_CASES, 3, async (c, i) => {
    if (c.skip?.()) return;
    const cwd = path.join(casesRoot, String(i));
    fs.mkdirSync(cwd);
    const r = await runCli(c.args.map((a) => expand(a, cwd)), { cwd });
    results.set(c.name, { r, cwd });
  });
});

afterAll(() => {
  if (work) {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(work + '-cases', { recursive: true, force: true });
  }
});

test('the corpus has at least 25 distinct cases', () => {
  expect(BAD_INPUT_CASES.length).toBeGreaterThanOrEqual(25);
  expect(new Set(BAD_INPUT_CASES.map((c) => c.name)).size).toBe(BAD_INPUT_CASES.length);
});

describe.each(BAD_INPUT_CASES.map((c) => [c.name, c] as [string, BadInputCase]))('%s', (_name, c) => {
  test('fails with one line naming the problem, and writes nothing', () => {
    const reason = c.skip?.();
    if (reason) {
      console.log(`skipped "${c.name}": ${reason}`);
      return;
    }
    const got = results.get(c.name);
    expect(got).toBeDefined();
    const { r, cwd } = got!;
    const line = errorLine(r);
    expect(line).toMatch(/^push-ens: error: /);
    expect(line).toMatch(c.message);
    expect(line).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
    expect(r.stdout).toBe('');
    expect(r.code).toBe(c.code ?? 2);
    expect(fs.readdirSync(cwd)).toEqual([]);
    if (c.creates) expect(fs.existsSync(path.join(cwd, c.creates))).toBe(false);
  });
});

test('no case changed the fixtures or the test checkpoints', () => {
  expect(snapshot(FIXTURES)).toEqual(fixturesBefore);
  expect(snapshot(work)).toEqual(workBefore);
  // No temporary siblings of checkpoints were left behind either.
  expect(fs.readdirSync(work).filter((f) => /\.(tmp|old)-\d+$/.test(f))).toEqual([]);
});

test('--verbose adds the stack trace to an error', async () => {
  const r = await runCli(['train', '--epochs', '0', '--verbose']);
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines[0]).toBe('push-ens: error: --epochs "0": expected a whole number in [1, 1000000]');
  expect(lines.length).toBeGreaterThan(1);
  expect(r.stderr).toMatch(/PushInputError/);
});
