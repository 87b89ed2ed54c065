// Device-resident training through real device workers: the resident path
// equals the host path within 1e-5 after 20 steps, with cache swaps (cacheSize
// 1, 3 particles), SVGD, onNan skip / reinit, and checkpoints.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PushDist } from '../../src/runtime/coordinator';
import { trainDeepEnsemble, trainSVGD } from '../../src/bayes';
import type { EnsembleOptions, NanEvent } from '../../src/bayes';
import { PushInputError } from '../../src/util/errors';
import { HANDLERS, SMALL_MODEL } from './helpers';
import { maxAbsDiff, regressionData, tempDir } from '../bayes/helpers';

jest.setTimeout(60000);

const X = { dtype: 'float32', shape: [4, 3], data: Float32Array.from([0.1, 0.2, 0.3, -1, 0.5, 2, 0.3, 0.3, -0.7, 1.2, -0.4, 0.9]) };
const Y = { dtype: 'float32', shape: [4, 1], data: Float32Array.from([1, -1, 0.5, 2]) };
const MODEL = { format: 'push-ens/sequential', inputShape: [3], layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 1 }] };

describe.each(['wasm', 'cpu'] as const)('cache swaps (%s)', (backend) => {
  test('cacheSize 1, 3 particles, 20 interleaved Adam steps: resident equals host within 1e-5, state moved only at swaps', async () => {
    const make = (resident: boolean) => PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, handlers: HANDLERS, cacheSize: 1, seed: 3, backend, resident });
    const [host, res] = await Promise.all([make(false), make(true)]);
    try {
      for (const d of [host, res]) for (let i = 0; i < 3; i++) d.createParticle({ optimizer: { type: 'adam', lr: 0.01 } });
      for (const d of [host, res]) for (let r = 0; r < 20; r++) for (const pid of [0, 1, 2]) await d.launch(pid, 'trainWire', 1, X, Y);
      const [hs] = await host.stats();
      const [rs] = await res.stats();
      expect(hs.residentTraining).toEqual({ on: false, uploads: 0, downloads: 0 });
      expect(rs.residentTraining!.on).toBe(true);
      expect(rs.residentTraining!.uploads).toBe(60); // every step swaps a particle in...
      expect(rs.residentTraining!.downloads).toBe(59); // ...and the one before out: its optimizer state goes home
      for (const pid of [0, 1, 2]) {
        const a = await res.snapshot(pid);
        const b = await host.snapshot(pid);
        expect(a.step).toBe(20);
        expect(maxAbsDiff(a.params, b.params)).toBeLessThan(1e-5);
        expect(maxAbsDiff(a.slots.exp_avg, b.slots.exp_avg)).toBeLessThan(1e-5);
        expect(maxAbsDiff(a.slots.exp_avg_sq, b.slots.exp_avg_sq)).toBeLessThan(1e-5);
        expect(a.slots.exp_avg.some((v) => v !== 0)).toBe(true);
      }
      // Group state: params, grads and two slots; nothing else stays behind.
      expect(rs.numTensors - hs.numTensors).toBe(4);
    } finally {
      await Promise.all([host.close(), res.close()]);
    }
  });
});

test('PushDist refuses a non-boolean resident option', async () => {
  await expect(PushDist.create({ model: SMALL_MODEL, resident: 'yes' as unknown as boolean })).rejects.toThrow(PushInputError);
  await expect(PushDist.create({ model: SMALL_MODEL, resident: 'yes' as unknown as boolean })).rejects.toThrow('bad resident "yes": expected true or false');
});

function float32Files(dir: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const name of fs.readdirSync(dir).sort()) {
    if (!name.endsWith('.f32')) continue;
    const b = fs.readFileSync(path.join(dir, name));
    out.set(name, new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  }
  return out;
}

test('ensemble, AdamW, cacheSize 1, 3 particles on two devices: the resident checkpoint equals the host one', async () => {
  const dirs = [tempDir('res-host'), tempDir('res-dev')];
  try {
    const opts = (resident: boolean, dir: string): EnsembleOptions => ({
      model: MODEL,
      data: regressionData(64, 2),
      epochs: 5,
      batchSize: 16,
      particles: 3,
      devices: 'cpu:0,cpu:1',
      cacheSize: 1,
      optimizer: { type: 'adamw', lr: 0.01 },
      seed: 5,
      resident,
      checkpoint: { dir },
    });
    const posts = await Promise.all([trainDeepEnsemble(opts(false, dirs[0].dir)), trainDeepEnsemble(opts(true, dirs[1].dir))]);
    await Promise.all(posts.map((p) => p.close()));
    const [a, b] = dirs.map((d) => float32Files(d.dir));
    expect([...b.keys()]).toEqual([...a.keys()]);
    expect(a.size).toBe(6); // params and optimizer state of each particle
    for (const [name, values] of a) expect(maxAbsDiff(b.get(name)!, values)).toBeLessThan(1e-5);
    const manifest = (d: string) => {
      const m = JSON.parse(fs.readFileSync(path.join(d, 'manifest.json'), 'utf8'));
      // Equal within 1e-5, not to the bit: the float32 tensor ops round differently from the host loop.
      delete m.createdAt;
      expect(m.trainLosses).toHaveLength(3);
      delete m.trainLosses;
      delete m.noiseVariance;
      delete m.manifestSha256;
      for (const f of m.files) delete f.sha256;
      return m;
    };
    expect(manifest(dirs[1].dir)).toEqual(manifest(dirs[0].dir));
  } finally {
    dirs.forEach((d) => d.cleanup());
  }
});

test('SVGD with resident groups equals the host path within 1e-5 after 20 steps', async () => {
  const run = async (resident: boolean) => {
    const post = await trainSVGD({ model: MODEL, data: regressionData(32, 7), epochs: 10, batchSize: 16, particles: 4, devices: 'cpu:0,cpu:1', optimizer: { type: 'adam', lr: 0.01 }, seed: 2, resident });
    try {
      return await post.particleParameters();
    } finally {
      await post.close();
    }
  };
  const [host, res] = await Promise.all([run(false), run(true)]);
  host.forEach((p, k) => expect(maxAbsDiff(res[k], p)).toBeLessThan(1e-5));
  expect(maxAbsDiff(host[0], host[1])).toBeGreaterThan(1e-3); // the particles did spread
});

describe.each(['skip', 'reinit'] as const)('onNan %s with resident groups', (policy) => {
  test('same events and parameters as the host path', async () => {
    const data = regressionData(64, 4);
    data.y[5] = 1e20; // squared error overflows float32
    const run = async (resident: boolean) => {
      const events: NanEvent[] = [];
      const post = await trainDeepEnsemble({ model: MODEL, data, epochs: 3, particles: 6, batchSize: 16, bootstrap: true, seed: 11, onNan: policy, resident, onEpoch: (r) => void events.push(...r.nanEvents) });
      try {
        return { params: await post.particleParameters(), events };
      } finally {
        await post.close();
      }
    };
    const [host, res] = await Promise.all([run(false), run(true)]);
    expect(host.events.length).toBeGreaterThan(0);
    expect(res.events).toEqual(host.events);
    host.params.forEach((p, k) => {
      expect(res.params[k].every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(res.params[k], p)).toBeLessThan(1e-5);
    });
  });
});
