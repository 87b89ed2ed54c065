// Device layouts that run but waste something get one warning line on stderr
// and the run still succeeds: more cpu devices than cores, more devices than particles.
import * as os from 'node:os';
import { deviceWarnings } from '../../src/cli/common';
import { runCli } from './helpers';

jest.setTimeout(120000);

const warningLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('push-ens: warning: '));

test('deviceWarnings: one line per waste, none for a fitting layout', () => {
  expect(deviceWarnings(['cpu:0', 'cpu:1'], 4, 2)).toEqual([]);
  expect(deviceWarnings(['cpu:0', 'cpu:1', 'cpu:2'], 4, 2)).toEqual([
    '--devices lists 3 cpu devices but this machine has 2 cores: they will share cores (push-ens devices suggests a list)',
  ]);
  expect(deviceWarnings(['cpu:0', 'cpu:1', 'cpu:2'], 2, 8)).toEqual(['--devices lists 3 devices for 2 particles: 1 will hold none']);
  // cuda devices are not counted against the cores.
  expect(deviceWarnings(['cpu:0', 'cuda:0', 'cuda:1'], 3, 1)).toEqual([]);
});

test('more devices than particles: exit 0 with one warning line', async () => {
  const r = await runCli(['train', '--epochs', '1', '--particles', '1', '--devices', 'cpu:0,cpu:1', '--quiet']);
  expect(r.code).toBe(0);
  expect(warningLines(r.stderr)).toEqual(['push-ens: warning: --devices lists 2 devices for 1 particle: 1 will hold none']);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});

const cores = os.availableParallelism();
// One more cpu device than cores (only where that stays a small run).
(cores <= 4 ? test : test.skip)('more cpu devices than cores: exit 0 with one warning line', async () => {
  const n = cores + 1;
  const devices = Array.from({ length: n }, (_, i) => `cpu:${i}`).join(',');
  const r = await runCli(['train', '--epochs', '1', '--particles', String(n), '--devices', devices, '--quiet']);
  expect(r.code).toBe(0);
  expect(warningLines(r.stderr)).toEqual([`push-ens: warning: --devices lists ${n} cpu devices but this machine has ${cores} cores: they will share cores (push-ens devices suggests a list)`]);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});
