// `train --resident` / `--no-resident`: both train, to the same checkpoint within 1e-5;
// on cuda:N without tfjs-node-gpu the run stops where libtensorflow would load.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorLine, runCli, tempDir } from './helpers';

jest.setTimeout(60000);

function params(dir: string): Float32Array[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.params.f32'))
    .sort()
    .map((f) => new Float32Array(new Uint8Array(fs.readFileSync(path.join(dir, f))).buffer));
}

test('--resident and --no-resident train to the same particles; cuda:0 without tfjs-node-gpu is a one-line error', async () => {
  const work = tempDir('cli-resident');
  try {
    const args = (flag: string, out: string) => ['train', '--data', 'toy', '--model', 'mlp:16,16', '--epochs', '5', '--particles', '2', '-b', '32', '--cache-size', '1', flag, '--out', path.join(work, out), '--json'];
    const [res, host] = await Promise.all([runCli(args('--resident', 'res')), runCli(args('--no-resident', 'host'))]);
    expect(res.code).toBe(0);
    expect(host.code).toBe(0);
    const [a, b] = [params(path.join(work, 'res')), params(path.join(work, 'host'))];
    expect(a).toHaveLength(2);
    a.forEach((p, k) => {
      let m = 0;
      p.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[k][i]))));
      expect(m).toBeLessThan(1e-5);
    });
    const gpu = await runCli(['train', '--devices', 'cuda:0', '--resident', '--epochs', '1']);
    expect(gpu.code).toBe(2);
    expect(errorLine(gpu)).toMatch(/tfjs-node-gpu/);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
