// Progress within an epoch, on real workers: devices report their steps while
// the epoch runs (throttled, not once per step), the coordinator adds the
// devices up, every algorithm reports, and a throwing onProgress does not stop
// training.
import { TrainProgress, trainDeepEnsemble, trainMCDropout, trainMultiSWAG, trainSVGD } from '../../src/bayes';
import { dense } from '../../src/nn';
import { regressionData } from './helpers';

const MODEL = dense([3, 16, 1]);

interface Seen {
  reports: (TrainProgress & { beforeEpochEnd: boolean })[];
  epochsEnded: number;
}

function recorder(): { seen: Seen; onProgress: (p: TrainProgress) => void; onEpoch: () => void } {
  const seen: Seen = { reports: [], epochsEnded: 0 };
  return {
    seen,
    onProgress: (p) => seen.reports.push({ ...p, beforeEpochEnd: true }),
    onEpoch: () => {
      seen.epochsEnded++;
    },
  };
}

/** Reports of one epoch: steps never go back, end at the epoch's total, fewer reports than steps. */
function checkEpoch(reports: TrainProgress[], epoch: number, stepsTotal: number, particles: number): void {
  const mine = reports.filter((r) => r.epoch === epoch);
  expect(mine.length).toBeGreaterThan(0);
  for (const r of mine) {
    expect(r.stepsTotal).toBe(stepsTotal);
    expect(r.particleStepsTotal).toBe(stepsTotal * particles);
  }
  for (let k = 1; k < mine.length; k++) expect(mine[k].stepsDone).toBeGreaterThanOrEqual(mine[k - 1].stepsDone);
  const last = mine[mine.length - 1];
  expect(last.stepsDone).toBe(stepsTotal);
  expect(last.particleStepsDone).toBe(stepsTotal * particles);
  expect(Number.isFinite(last.loss)).toBe(true);
}

describe('progress within an epoch', () => {
  test('ensemble on two devices: reports arrive mid-epoch, far fewer than steps, rising to the total (threads and a process)', async () => {
    // 3000 steps of batch 1: long enough (well over a second) for mid-epoch reports.
    const data = regressionData(3000, 3);
    for (const isolation of ['thread', 'process']) {
      const r = recorder();
      let midEpochBeforeEnd = 0;
      const post = await trainDeepEnsemble({
        model: MODEL,
        data,
        epochs: 1,
        batchSize: 1,
        particles: 3,
        devices: 'cpu:0,cpu:1',
        isolation,
        onProgress: (p) => {
          r.onProgress(p);
          if (p.stepsDone < p.stepsTotal && r.seen.epochsEnded === 0) midEpochBeforeEnd++;
        },
        onEpoch: r.onEpoch,
      });
      await post.close();
      const { reports } = r.seen;
      expect(midEpochBeforeEnd).toBeGreaterThan(0);
      // Two devices, each at most one report per 250 ms plus its last: nowhere near one per step.
      expect(reports.length).toBeLessThan(3000 / 10);
      checkEpoch(reports, 1, 3000, 3);
      const mid = reports.find((p) => p.stepsDone > 0 && p.stepsDone < p.stepsTotal)!;
      expect(mid.seconds).toBeGreaterThan(0);
      expect(Number.isFinite(mid.loss)).toBe(true);
    }
  }, 60_000);

  test('mswag, mcdropout and svgd report too; each epoch ends at its total', async () => {
    const data = regressionData(200, 4);
    const common = { model: MODEL, data, epochs: 2, batchSize: 20, particles: 2, devices: 'cpu:0' };
    const runs: [string, (o: never) => Promise<{ close(): Promise<void> }>, Record<string, unknown>][] = [
      ['mswag', trainMultiSWAG as never, { swagEpochs: 1 }],
      ['mcdropout', trainMCDropout as never, {}],
      ['svgd', trainSVGD as never, {}],
    ];
    for (const [, train, extra] of runs) {
      const r = recorder();
      const post = await train({ ...common, ...extra, onProgress: r.onProgress, onEpoch: r.onEpoch } as never);
      await post.close();
      checkEpoch(r.seen.reports, 1, 10, 2);
      checkEpoch(r.seen.reports, 2, 10, 2);
      expect(r.seen.reports.every((p) => p.epochs === 2)).toBe(true);
    }
  }, 60_000);

  test('an onProgress that throws is reported once and training completes', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let calls = 0;
    let warnings: string[] = [];
    try {
      const post = await trainDeepEnsemble({
        model: MODEL,
        data: regressionData(200, 5),
        epochs: 3,
        batchSize: 20,
        particles: 2,
        onProgress: () => {
          calls++;
          throw new Error('display broke');
        },
      });
      expect(post.info.epoch).toBe(3);
      await post.close();
      warnings = warn.mock.calls.map((c) => String(c[0]));
    } finally {
      warn.mockRestore();
    }
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(warnings.filter((w) => /onProgress threw .*display broke/.test(w))).toHaveLength(1);
  }, 60_000);

  test('onProgress must be a function', async () => {
    await expect(trainDeepEnsemble({ model: MODEL, data: regressionData(20, 1), epochs: 1, onProgress: 3 as never })).rejects.toThrow(/onProgress 3: expected a function/);
  });
});
