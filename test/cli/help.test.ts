// --help for the program and every command, --version, and `devices`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from './helpers';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

test('--version prints the package version', async () => {
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
  }
});

test('--help lists the commands, examples and exit codes', async () => {
  const r = await runCli(['--help']);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  for (const cmd of ['train', 'predict', 'eval', 'plot', 'export', 'devices']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} \\[options\\]`, 'm'));
  expect(r.stdout).toMatch(/Examples:/);
  expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 runtime failure, 2 bad usage or input, 130/);
});

test('no command: the help on stderr and exit 2', async () => {
  const r = await runCli([]);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^Usage: push-ens <command> \[options\]/);
});

test.each([
  ['train', ['--algo <name>', '--particles <n>', '--devices <list>', '--data <spec>', '--model <spec>', '--loss <name>', '--epochs <n>', '--batch-size <n>', '--lr <rate>', '--optimizer <name>', '--seed <n>', '--cache-size <n>', '--backend <name>', '--isolation <kind>', '--pretrain-epochs <n>', '--swag-epochs <n>', '--rank <k>', '--bootstrap', '--prior-beta <beta>', '--bandwidth <h>', '--out <dir>', '--resume <dir>', '--checkpoint-every <n>', '--test-fraction <f>', '--standardize', '--task <task>', '--json', '--quiet', '--verbose', 'Data specs:', 'Model specs', 'biggerNN:L,D', 'csv:PATH[:TARGET]']],
  ['predict', ['--checkpoint <dir>', '--data <spec>', '--modes <list>', '--out <file>', '--devices <list>', '--split <which>', '--json']],
  ['eval', ['--checkpoint <dir>', '--data <spec>', '--split <which>', '--json']],
  ['plot', ['--checkpoint <dir>', '--out <file>', '--data <spec>', '--points <n>', '--bins <n>']],
  ['devices', ['--json']],
])('%s --help shows its options', async (cmd, expected) => {
  for (const args of [[cmd, '--help'], ['help', cmd]]) {
    const r = await runCli(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: push-ens ${cmd} \\[options\\]`));
    for (const e of expected) expect(r.stdout).toContain(e);
    // Help lines fit an 80-column terminal, except the data and model spec tables.
    const wide = r.stdout.split('\n').filter((l) => l.length > 80 && !/^ {2}\S/.test(l) && !/^ {10,}/.test(l));
    expect(wide).toEqual([]);
  }
});

test('--help marks the required options', async () => {
  for (const [cmd, flags] of [['predict', ['--checkpoint']], ['eval', ['--checkpoint']], ['plot', ['--checkpoint', '--out']]] as const) {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    // The option's entry (its line and any wrapped continuation) ends with "(required)".
    for (const flag of flags) expect(r.stdout).toMatch(new RegExp(`${flag} <\\w+>[^]*?\\(required\\)\\n(  -|\\n|$)`));
  }
  const predict = await runCli(['predict', '--help']);
  expect(predict.stdout).not.toMatch(/--out <file>[^-]*\(required\)/);
  const train = await runCli(['train', '--help']);
  expect(train.stdout).not.toContain('(required)');
});

test('devices: CPU count, backends and what CUDA needs; --json parses', async () => {
  const text = await runCli(['devices']);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^CPU cores: \d+ {2}\(suggested: --devices cpu:0/);
  expect(text.stdout).toMatch(/^wasm\s+yes/m);
  expect(text.stdout).toMatch(/^cpu\s+yes/m);
  expect(text.stdout).toMatch(/^tensorflow\s+(yes|no)/m);
  expect(text.stdout).toMatch(/^CUDA: (yes|no)/m);
  const r = await runCli(['devices', '--json']);
  expect(r.code).toBe(0);
  const d = JSON.parse(r.stdout);
  expect(d.cpus).toBeGreaterThanOrEqual(1);
  expect(d.suggestedDevices.split(',')).toHaveLength(d.cpus);
  expect(d.backends.map((b: { name: string }) => b.name)).toEqual(['wasm', 'cpu', 'tensorflow']);
  expect(typeof d.cuda.available).toBe('boolean');
  if (!d.cuda.available) expect(d.cuda.missing.length).toBeGreaterThan(0);
  if (!d.backends[2].available) expect(d.backends[2].detail).toMatch(/npm install @tensorflow\/tfjs-node/);
});
