// onNan through the training API. 'stop' names the particle, epoch and step
// and keeps the last complete checkpoint; 'skip' and 'reinit' report their
// events per epoch and leave every particle that never met the bad example
// exactly as it would be without it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NonFiniteTrainingError, Posterior, trainDeepEnsemble } from '../../src/bayes';
import type { CommonTrainOptions, EnsembleOptions, NanEvent } from '../../src/bayes';
import { regressionData, tempDir } from '../bayes/helpers';

jest.setTimeout(60000);

const MODEL = {
  format: 'push-ens/sequential',
  inputShape: [3],
  layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 1 }],
};
const N = 64;
const BATCH = 16;
const STEPS = N / BATCH;

test('stop: a one-line error naming particle, epoch and step; the checkpoint of the last complete epoch stays', async () => {
  const { dir, cleanup } = tempDir('nan-stop');
  try {
    // Two sane epochs, then the step scheduler multiplies the learning rate by 1e30: the third epoch overflows.
    const err = await trainDeepEnsemble({
      model: MODEL,
      data: regressionData(N, 4),
      epochs: 5,
      particles: 3,
      batchSize: BATCH,
      devices: 'cpu:0,cpu:1',
      optimizer: { type: 'sgd', lr: 0.01 },
      scheduler: { type: 'step', stepSize: 2, gamma: 1e30 },
      checkpoint: { dir },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteTrainingError);
    const e = err as NonFiniteTrainingError;
    expect(e.epoch).toBe(3);
    expect(e.step).toBeGreaterThanOrEqual(2); // the first step at the huge rate still starts from sane weights
    expect(e.steps).toBe(STEPS);
    expect(e.message).toMatch(new RegExp(`^particle ${e.pid}: non-finite (loss|gradient) .* at epoch 3, step ${e.step} of ${STEPS}; training stopped \\(on-nan policy "stop"\\)$`));
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.epoch).toBe(2);
    const saved = await Posterior.load(dir);
    try {
      for (const p of await saved.particleParameters()) expect(p.every(Number.isFinite)).toBe(true);
    } finally {
      await saved.close();
    }
  } finally {
    cleanup();
  }
});

/** Row 5's target is 1e20 (finite, but its squared error overflows float32) or an ordinary value. */
function dataWithTarget(value: number) {
  const d = regressionData(N, 4);
  d.y[5] = value;
  return d;
}

interface Run {
  params: Float32Array[];
  losses: number[];
  events: NanEvent[];
  /** Per epoch report: did every event name that epoch? */
  eventsMatchEpochs: boolean;
}

async function train(onNan: CommonTrainOptions['onNan'], target: number): Promise<Run> {
  const events: NanEvent[] = [];
  let eventsMatchEpochs = true;
  // Bootstrap: each particle trains on its own resample, so only some of them ever see row 5.
  const opts: EnsembleOptions = {
    model: MODEL,
    data: dataWithTarget(target),
    epochs: 3,
    particles: 6,
    batchSize: BATCH,
    devices: 'cpu:0,cpu:1',
    bootstrap: true,
    seed: 11,
    onNan,
    onEpoch: (r) => {
      if (r.nanEvents.some((e) => e.epoch !== r.epoch)) eventsMatchEpochs = false;
      events.push(...r.nanEvents);
    },
  };
  const post = await trainDeepEnsemble(opts);
  try {
    return { params: await post.particleParameters(), losses: post.info.trainLosses!, events, eventsMatchEpochs };
  } finally {
    await post.close();
  }
}

describe.each(['skip', 'reinit'] as const)('onNan %s', (policy) => {
  test('reports each event with particle, epoch and step; particles that never met the bad target are untouched', async () => {
    const [clean, faulty] = await Promise.all([train('stop', 0.5), train(policy, 1e20)]);
    expect(clean.events).toEqual([]);
    expect(faulty.eventsMatchEpochs).toBe(true);
    const hit = new Set(faulty.events.map((e) => e.pid));
    expect(hit.size).toBeGreaterThan(0);
    expect(hit.size).toBeLessThan(6); // the seed gives both kinds of particle
    for (const e of faulty.events) {
      expect(e.action).toBe(policy);
      expect(e.loss).toBe(Infinity);
      expect(e.step).toBeGreaterThanOrEqual(1);
      expect(e.step).toBeLessThanOrEqual(STEPS);
      expect(e.steps).toBe(STEPS);
    }
    for (let pid = 0; pid < 6; pid++) {
      expect(faulty.params[pid].every(Number.isFinite)).toBe(true);
      expect(Number.isFinite(faulty.losses[pid])).toBe(true);
      if (hit.has(pid)) expect(Array.from(faulty.params[pid])).not.toEqual(Array.from(clean.params[pid]));
      else expect(Array.from(faulty.params[pid])).toEqual(Array.from(clean.params[pid]));
    }
  });
});

test('reinit, then resume: the re-drawn seeds are checkpointed, so the resumed run equals an uninterrupted one', async () => {
  const { dir, cleanup } = tempDir('nan-resume');
  try {
    const opts: EnsembleOptions = { model: MODEL, data: dataWithTarget(1e20), epochs: 3, particles: 6, batchSize: BATCH, bootstrap: true, seed: 11, onNan: 'reinit' };
    const whole = await trainDeepEnsemble(opts);
    const expected = (await whole.particleParameters()).map((p) => Array.from(p));
    await whole.close();
    const stop = new AbortController();
    const first = await trainDeepEnsemble({ ...opts, checkpoint: { dir }, signal: stop.signal, onEpoch: () => stop.abort() }).catch((e: unknown) => e);
    expect((first as Error).name).toBe('AbortError');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).epoch).toBe(1);
    const resumed = await trainDeepEnsemble({ ...opts, checkpoint: { dir }, resumeFrom: dir });
    try {
      expect((await resumed.particleParameters()).map((p) => Array.from(p))).toEqual(expected);
    } finally {
      await resumed.close();
    }
  } finally {
    cleanup();
  }
});
