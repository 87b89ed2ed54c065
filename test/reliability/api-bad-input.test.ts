// Table-driven bad input for the Node API (cases in api-bad-input-cases.ts):
// each must fail with its typed error, a one-line message, and leave the work
// directory (every path a case names is in it) exactly as it was.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PushDist } from '../../src/runtime/coordinator';
import { Posterior, trainDeepEnsemble } from '../../src/bayes';
import { HANDLERS } from '../runtime/helpers';
import { checkpointFile, editManifest, snapshot, tempDir } from '../cli/helpers';
import { BAD_INPUT_CASES } from '../cli/bad-input-cases';
import { API_BAD_INPUT_CASES, ApiBadInputCase, ApiContext, DATA, MODEL } from './api-bad-input-cases';

jest.setTimeout(60000);

const ctx = {} as ApiContext;

function copyCheckpoint(name: string, edit: (dir: string) => void): void {
  const dir = path.join(ctx.work, name);
  fs.cpSync(path.join(ctx.work, 'ckpt'), dir, { recursive: true });
  edit(dir);
}

beforeAll(async () => {
  ctx.work = tempDir('api-bad');
  ctx.posterior = await trainDeepEnsemble({ model: MODEL, data: DATA, epochs: 1, particles: 2, batchSize: 8, checkpoint: { dir: path.join(ctx.work, 'ckpt') } });
  ctx.dist = await PushDist.create({ devices: 'cpu:0', model: MODEL, handlers: HANDLERS });
  ctx.dist.createParticle();
  copyCheckpoint('truncated', (d) => {
    const f = checkpointFile(d, 'particle-000.params.f32');
    fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
  });
  copyCheckpoint('edited', (d) => editManifest(d, (m) => (m.numParams = (m.numParams as number) + 1)));
  copyCheckpoint('future', (d) => editManifest(d, (m) => (m.formatVersion = 99)));
  copyCheckpoint('garbled', (d) => fs.writeFileSync(path.join(d, 'manifest.json'), '{"format": "push-ens/checkpoint", '));
  fs.mkdirSync(path.join(ctx.work, 'foreign'));
  fs.writeFileSync(path.join(ctx.work, 'foreign', 'manifest.json'), JSON.stringify({ format: 'someone-else/model', version: 3 }));
  fs.writeFileSync(path.join(ctx.work, 'plain.txt'), 'not a directory\n');
  fs.mkdirSync(path.join(ctx.work, 'notes'));
  fs.writeFileSync(path.join(ctx.work, 'notes', 'todo.txt'), 'keep me\n');
});

afterAll(async () => {
  await Promise.all([ctx.posterior?.close(), ctx.dist?.close()]);
  if (ctx.work) fs.rmSync(ctx.work, { recursive: true, force: true });
});

test('the API corpus has at least 15 distinct cases, and with the CLI corpus more than 40', () => {
  const names = API_BAD_INPUT_CASES.map((c) => c.name);
  expect(new Set(names).size).toBe(names.length);
  expect(names.length).toBeGreaterThanOrEqual(15);
  expect(names.length + BAD_INPUT_CASES.length).toBeGreaterThan(40);
});

describe.each(API_BAD_INPUT_CASES.map((c) => [c.name, c] as [string, ApiBadInputCase]))('%s', (_name, c) => {
  test('fails with its typed error and a one-line message, and changes nothing on disk', async () => {
    const before = snapshot(ctx.work);
    let caught: unknown;
    try {
      await c.call(ctx);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(c.error);
    const message = (caught as Error).message;
    expect(message).toMatch(c.message);
    expect(message).not.toMatch(/\n/);
    expect(snapshot(ctx.work)).toEqual(before);
    expect(fs.readdirSync(ctx.work).filter((f) => /\.(tmp|old)-\d+$/.test(f))).toEqual([]);
  });
});

test('after every bad call the dist and the posterior still work', async () => {
  expect(await ctx.dist.launch(0, 'echo', 'ok')).toEqual(['ok']);
  const p = await ctx.posterior.predict([[0, 0, 0]]);
  expect(Number.isFinite(p.mean.data[0])).toBe(true);
  const loaded = await Posterior.load(path.join(ctx.work, 'ckpt'));
  await loaded.close();
});
