// Scripts end on their own: idle device workers (threads and processes) do not
// keep the event loop alive, while a launched handler does until it answers.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scratchDir } from '../docs/doc-blocks';

jest.setTimeout(90_000);

let scratch: ReturnType<typeof scratchDir>;
beforeAll(() => {
  scratch = scratchDir('push-ens-exit-');
  fs.writeFileSync(
    path.join(scratch.dir, 'handlers.mjs'),
    'export async function slow(p, ms) { await new Promise((r) => setTimeout(r, ms)); return "answered"; }\n',
  );
});
afterAll(() => scratch.cleanup());

/** Runs a script; a script that hangs is killed after 30 s (the goal is a few seconds). */
function runScript(name: string, text: string): { status: number | null; signal: string | null; stdout: string; stderr: string; ms: number } {
  fs.writeFileSync(path.join(scratch.dir, name), text);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [name], { cwd: scratch.dir, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

const MODEL = "{ format: 'push-ens/sequential', inputShape: [2], layers: [{ type: 'dense', units: 1 }] }";

test('a script that trains a deep ensemble and never calls posterior.close() ends', () => {
  const r = runScript(
    'ensemble.mjs',
    `import { trainDeepEnsemble, nn } from 'push-ens';
const x = Float32Array.from({ length: 64 * 2 }, (_, i) => Math.sin(i));
const y = Float32Array.from({ length: 64 }, (_, i) => x[2 * i] - x[2 * i + 1]);
const posterior = await trainDeepEnsemble({ model: nn.mlp([2, 8, 1]), data: { x, xShape: [64, 2], y, yShape: [64, 1] }, epochs: 2, batchSize: 32, particles: 2, devices: 'cpu:0,cpu:1' });
console.log('trained', posterior.info.trainLosses.length);
`,
  );
  expect(r.signal).toBeNull();
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('trained 2');
});

test.each(['thread', 'process'])('a PushDist (%s devices) left open ends the script once idle', (isolation) => {
  const r = runScript(
    `open-${isolation}.mjs`,
    `import { PushDist } from 'push-ens';
const dist = await PushDist.create({ devices: 'cpu:0,cpu:1', isolation: '${isolation}', model: ${MODEL}, handlers: new URL('./handlers.mjs', import.meta.url) });
dist.createParticle();
console.log(await dist.launch(0, 'slow', 10));
`,
  );
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('answered');
});

test.each(['thread', 'process'])('a launched handler (%s device) keeps the process alive until it answers, even unawaited', (isolation) => {
  const r = runScript(
    `pending-${isolation}.mjs`,
    `import { PushDist } from 'push-ens';
const dist = await PushDist.create({ isolation: '${isolation}', model: ${MODEL}, handlers: new URL('./handlers.mjs', import.meta.url) });
dist.createParticle();
const t0 = Date.now();
dist.launch(0, 'slow', 1500).then((v) => console.log(v, Date.now() - t0 >= 1400));
`,
  );
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('answered true');
});
