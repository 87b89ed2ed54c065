// Device workers that stop answering or die during training, through the API:
// a per-message timeout turns a hang into an error (and kills the silent worker),
// and restartWorkers brings a killed or timed-out worker back -- at any point of
// the run, the final evaluation and save included -- and ends with the parameters
// of an uninterrupted run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PushTimeoutError, PushWorkerError } from '../../src/util/errors';
import { trainDeepEnsemble, trainMultiSWAG } from '../../src/bayes';
import type { EnsembleOptions, EpochReport, MultiSWAGOptions, Posterior, WorkerRestartReport } from '../../src/bayes';
import { regressionData, tempDir } from '../bayes/helpers';
import { alive } from '../cli/helpers';

jest.setTimeout(60000);

const MODEL = {
  format: 'push-ens/sequential',
  inputShape: [3],
  layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 1 }],
};
const DATA = regressionData(64, 2);

function workerPid(posterior: Posterior, device: string): number {
  const pid = posterior.liveCluster.dist.workerPid(device);
  if (pid === undefined) throw new Error(`${device} has no worker process`);
  return pid;
}

/** The bytes of every particle file of a checkpoint, by name. */
function checkpointFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('particle-')).sort()) out[f] = fs.readFileSync(path.join(dir, f)).toString('base64');
  return out;
}

async function paramsOf(post: Posterior): Promise<number[][]> {
  try {
    return (await post.particleParameters()).map((p) => Array.from(p));
  } finally {
    await post.close();
  }
}

test('timeoutMs: a worker that stops answering fails the run with PushTimeoutError within the timeout plus 1 s, and its process is ended', async () => {
  let stopped = 0;
  let stoppedAt = 0;
  try {
    const err = await trainDeepEnsemble({
      model: MODEL,
      data: DATA,
      epochs: 100,
      particles: 2,
      batchSize: 16,
      devices: 'cpu:0,cpu:1',
      isolation: 'process',
      timeoutMs: 1000,
      onEpoch: ({ epoch, posterior }) => {
        if (epoch !== 2) return;
        stopped = workerPid(posterior, 'cpu:1');
        process.kill(stopped, 'SIGSTOP'); // alive, but it will never answer
        stoppedAt = Date.now();
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushTimeoutError);
    expect((err as Error).message).toBe('message "ensembleEpoch" to device cpu:1 got no answer within 1000 ms');
    // The timeout kills the stopped worker at once, so close() does not wait for it.
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
    expect(alive(stopped)).toBe(false);
  } finally {
    if (stopped && alive(stopped)) process.kill(stopped, 'SIGKILL');
  }
});

/**
 * Trains `opts` uninterrupted (or `run.reference`) and, at the same time, on process workers with
 * restartWorkers 1 and checkpoints every `run.every` epochs, SIGKILLing `run.device`'s worker once
 * right after epoch `run.killAt`.
 */
async function referenceAndRecovered(opts: EnsembleOptions, run: { dir: string; every: number; killAt: number; device?: string; reference?: EnsembleOptions }) {
  const epochs: number[] = [];
  const restarts: WorkerRestartReport[] = [];
  let killed = false;
  const [reference, recovered] = await Promise.all([
    trainDeepEnsemble(run.reference ?? opts).then(paramsOf),
    trainDeepEnsemble({
      ...opts,
      isolation: 'process',
      checkpoint: { dir: run.dir, every: run.every },
      restartWorkers: 1,
      onWorkerRestart: (r) => void restarts.push(r),
      onEpoch: ({ epoch, posterior }: EpochReport) => {
        epochs.push(epoch);
        if (epoch === run.killAt && !killed) {
          killed = true;
          process.kill(workerPid(posterior, run.device ?? 'cpu:1'), 'SIGKILL');
        }
      },
    }).then(paramsOf),
  ]);
  return { reference, recovered, epochs, restarts };
}

describe('restartWorkers', () => {
  const ensemble: EnsembleOptions = {
    model: MODEL,
    data: DATA,
    epochs: 6,
    particles: 4,
    batchSize: 16,
    devices: 'cpu:0,cpu:1',
    bootstrap: true,
    randomPrior: { beta: 1 },
    seed: 5,
  };

  test('a killed worker process is restarted, every particle goes back to the last checkpoint, and the result equals an uninterrupted run', async () => {
    const { dir, cleanup } = tempDir('restart');
    try {
      const { reference, recovered, epochs, restarts } = await referenceAndRecovered(ensemble, { dir, every: 2, killAt: 3 });
      expect(restarts).toEqual([{ device: 'cpu:1', reason: 'its process was killed by SIGKILL', particles: [1, 3], epoch: 2, restart: 1 }]);
      expect(epochs).toEqual([1, 2, 3, 3, 4, 5, 6]); // epoch 4 was lost with the worker; 3 and 4 were redone from the checkpoint
      expect(recovered).toEqual(reference);
    } finally {
      cleanup();
    }
  });

  test('without a checkpoint the run goes back to its start: MultiSWAG learning rates and moments come out exact', async () => {
    const swag: MultiSWAGOptions = { model: MODEL, data: DATA, epochs: 4, swagEpochs: 2, swagLr: 0.05, particles: 2, batchSize: 16, devices: 'cpu:0,cpu:1', seed: 9 };
    const epochs: number[] = [];
    let killed = false;
    const moments = async (post: Posterior) => {
      const m = (await post.swagMoments()).map((s) => Array.from(s.mean));
      return { params: await paramsOf(post), m };
    };
    const [reference, recovered] = await Promise.all([
      trainMultiSWAG(swag).then(moments),
      trainMultiSWAG({
        ...swag,
        isolation: 'process',
        restartWorkers: 2,
        onEpoch: ({ epoch, posterior }) => {
          epochs.push(epoch);
          if (epoch === 3 && !killed) {
            killed = true; // in the SWAG phase, after the switch to swagLr
            process.kill(workerPid(posterior, 'cpu:0'), 'SIGKILL');
          }
        },
      }).then(moments),
    ]);
    expect(epochs).toEqual([1, 2, 3, 1, 2, 3, 4]);
    expect(recovered).toEqual(reference);
  });

  test('a worker that stops answering (SIGSTOP) counts as dead: killed at the timeout, restarted, same result', async () => {
    const { dir, cleanup } = tempDir('restart-timeout');
    const restarts: WorkerRestartReport[] = [];
    let stopped = 0;
    try {
      const [reference, recovered] = await Promise.all([
        trainDeepEnsemble(ensemble).then(paramsOf),
        trainDeepEnsemble({
          ...ensemble,
          isolation: 'process',
          checkpoint: { dir, every: 2 },
          restartWorkers: 1,
          timeoutMs: 2000,
          onWorkerRestart: (r) => void restarts.push(r),
          onEpoch: ({ epoch, posterior }: EpochReport) => {
            if (epoch === 3 && !stopped) {
              stopped = workerPid(posterior, 'cpu:0');
              process.kill(stopped, 'SIGSTOP');
            }
          },
        }).then(paramsOf),
      ]);
      expect(restarts).toEqual([{ device: 'cpu:0', reason: 'killed after no answer within 2000 ms', particles: [0, 2], epoch: 2, restart: 1 }]);
      expect(alive(stopped)).toBe(false);
      expect(recovered).toEqual(reference);
    } finally {
      if (stopped && alive(stopped)) process.kill(stopped, 'SIGKILL');
      cleanup();
    }
  });

  describe('a worker killed right after the last epoch', () => {
    test('during the final evaluation: back to the last checkpoint, the last epochs redone, same result', async () => {
      const { dir, cleanup } = tempDir('restart-final-eval');
      try {
        // After epoch 6 the next messages are the noise-variance estimate's, after the last epoch.
        const { reference, recovered, epochs, restarts } = await referenceAndRecovered(ensemble, { dir, every: 4, killAt: 6 });
        expect(restarts).toEqual([{ device: 'cpu:1', reason: 'its process was killed by SIGKILL', particles: [1, 3], epoch: 4, restart: 1 }]);
        expect(epochs).toEqual([1, 2, 3, 4, 5, 6, 5, 6]);
        expect(recovered).toEqual(reference);
      } finally {
        cleanup();
      }
    });

    test('during the final save (no evaluation first): the saved checkpoint is the uninterrupted one', async () => {
      // bce and no test split: after the last epoch the run goes straight to the final checkpoint.
      const binary = { ...DATA, y: DATA.y.map((v) => (v > 0 ? 1 : 0)) };
      const opts = { ...ensemble, data: binary, loss: 'bce' as const };
      const { dir, cleanup } = tempDir('restart-final-save');
      const { dir: refDir, cleanup: refCleanup } = tempDir('restart-final-save-ref');
      try {
        const { reference, recovered, epochs } = await referenceAndRecovered(opts, { dir, every: 4, killAt: 6, device: 'cpu:0', reference: { ...opts, checkpoint: { dir: refDir, every: 4 } } });
        expect(epochs).toEqual([1, 2, 3, 4, 5, 6, 5, 6]);
        expect(recovered).toEqual(reference);
        expect(checkpointFiles(dir)).toEqual(checkpointFiles(refDir));
      } finally {
        cleanup();
        refCleanup();
      }
    });

    test('after the final checkpoint (in afterTraining): back to that checkpoint, no epoch redone', async () => {
      const { dir, cleanup } = tempDir('restart-after-training');
      const epochs: number[] = [];
      const restarts: WorkerRestartReport[] = [];
      let calls = 0;
      try {
        const [reference, recovered] = await Promise.all([
          trainDeepEnsemble(ensemble).then(paramsOf),
          trainDeepEnsemble({
            ...ensemble,
            isolation: 'process',
            checkpoint: { dir, every: 4 },
            restartWorkers: 1,
            onWorkerRestart: (r) => void restarts.push(r),
            onEpoch: ({ epoch }: EpochReport) => void epochs.push(epoch),
            afterTraining: async (posterior) => {
              if (calls++ === 0) process.kill(workerPid(posterior, 'cpu:1'), 'SIGKILL');
              await posterior.predict({ x: DATA.x, xShape: DATA.xShape });
            },
          }).then(paramsOf),
        ]);
        expect(calls).toBe(2);
        expect(restarts).toEqual([{ device: 'cpu:1', reason: 'its process was killed by SIGKILL', particles: [1, 3], epoch: 6, restart: 1 }]);
        expect(epochs).toEqual([1, 2, 3, 4, 5, 6]);
        expect(recovered).toEqual(reference);
      } finally {
        cleanup();
      }
    });
  });

  test('more deaths than restarts: the run fails with the worker error', async () => {
    let kills = 0;
    const err = await trainDeepEnsemble({
      ...ensemble,
      epochs: 20,
      isolation: 'process',
      restartWorkers: 1,
      onEpoch: ({ epoch, posterior }) => {
        if (epoch === 2 && kills < 2) {
          kills++;
          process.kill(workerPid(posterior, 'cpu:0'), 'SIGKILL');
        }
      },
    }).catch((e: unknown) => e);
    expect(kills).toBe(2);
    expect(err).toBeInstanceOf(PushWorkerError);
    expect((err as Error).message).toBe('device cpu:0 worker died (its process was killed by SIGKILL); it held particles 0, 2');
  });
});
