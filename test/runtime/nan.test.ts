// A particle whose loss turns NaN or infinite: stop, skip or re-initialise.
import { biggerNN } from '../../src/nn';
import { PushDist } from '../../src/runtime/coordinator';
import { Rng } from '../../src/util/rng';

const N = 32;
const D = 4;
const rng = new Rng(5);
const DATA = { x: rng.fillNormal(new Float32Array(N * D)), xShape: [N, D], y: rng.fillNormal(new Float32Array(N)), yShape: [N, 1] };
const MODEL = biggerNN(1, D);

/** Particle 0 trains sanely; particle 1's SGD step is so large that its loss overflows. */
async function run(onNan: string | undefined, withDiverging = true) {
  const dist = await PushDist.create({ devices: 'cpu:0', model: MODEL, seed: 2 });
  try {
    dist.createParticle({ optimizer: { type: 'adam', lr: 0.01 } });
    if (withDiverging) dist.createParticle({ optimizer: { type: 'sgd', lr: 1e30 } });
    await dist.launch(0, 'pushSetData', 'd', DATA);
    const pids = withDiverging ? [0, 1] : [0];
    const result = await dist
      .launch<number[][]>(0, 'pushTrainEpochs', { key: 'd', pids, epochs: [0, 1], batchSize: 8, loss: 'mse', seed: 1, onNan })
      .catch((e: Error) => e);
    const events = await dist.launch<{ pid: number; action: string; epoch: number; step: number }[]>(0, 'pushTakeNanEvents');
    const params = await Promise.all(pids.map((pid) => dist.parameters(pid)));
    return { result, events, params };
  } finally {
    await dist.close();
  }
}

describe('non-finite losses', () => {
  test('stop (the default) fails naming the particle, epoch and step, before updating anyone', async () => {
    const { result } = await run(undefined);
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(/particle 1: non-finite loss \((NaN|Infinity)\) at epoch 0, step \d+; on-nan policy "stop"/);
  });

  test('skip leaves the other particles training exactly as if alone', async () => {
    const skipped = await run('skip');
    const alone = await run('skip', false);
    expect(Array.isArray(skipped.result)).toBe(true);
    expect(skipped.events.length).toBeGreaterThan(0);
    expect(skipped.events.every((e) => e.pid === 1 && e.action === 'skip')).toBe(true);
    expect(Array.from(skipped.params[0])).toEqual(Array.from(alone.params[0]));
  });

  test('reinit re-initialises the particle, which keeps finite parameters', async () => {
    const { result, events, params } = await run('reinit');
    expect(Array.isArray(result)).toBe(true);
    expect(events.some((e) => e.pid === 1 && e.action === 'reinit')).toBe(true);
    expect(params[1].every((v) => Number.isFinite(v))).toBe(true);
  });
});
