// Device workers that stop answering or die during training, through the API:
// a per-message timeout turns a hang into an error, and restartWorkers brings a
// killed worker process back and ends with the parameters of an uninterrupted run.
import { PushTimeoutError, PushWorkerError } from '../../src/util/errors';
import { trainDeepEnsemble, trainMultiSWAG } from '../../src/bayes';
import type { EnsembleOptions, EpochReport, MultiSwagOptions, Posterior, WorkerRestartReport } from '../../src/bayes';
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

async function paramsOf(post: Posterior): Promise<number[][]> {
  try {
    return (await post.particleParameters()).map((p) => Array.from(p));
  } finally {
    await post.close();
  }
}

test('timeoutMs: a worker that stops answering fails the run with PushTimeoutError, and its process is ended', async () => {
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
    expect((err as Error).message).toBe('message "bayesTrainEpoch" to particle 1 on cpu:1 got no answer within 1000 ms');
    // The timeout, then close(): 2 s for the worker to answer "close", 2 s more before SIGKILL.
    expect(Date.now() - stoppedAt).toBeLessThan(7000);
    expect(alive(stopped)).toBe(false);
  } finally {
    if (stopped && alive(stopped)) process.kill(stopped, 'SIGKILL');
  }
});

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
    const epochs: number[] = [];
    const restarts: WorkerRestartReport[] = [];
    let killed = false;
    try {
      const [reference, recovered] = await Promise.all([
        trainDeepEnsemble(ensemble).then(paramsOf),
        trainDeepEnsemble({
          ...ensemble,
          isolation: 'process',
          checkpoint: { dir, every: 2 },
          restartWorkers: 1,
          onWorkerRestart: (r) => void restarts.push(r),
          onEpoch: ({ epoch, posterior }: EpochReport) => {
            epochs.push(epoch);
            if (epoch === 3 && !killed) {
              killed = true;
              process.kill(workerPid(posterior, 'cpu:1'), 'SIGKILL');
            }
          },
        }).then(paramsOf),
      ]);
      expect(restarts).toEqual([{ device: 'cpu:1', reason: 'its process was killed by SIGKILL', particles: [1, 3], epoch: 2, restart: 1 }]);
      expect(epochs).toEqual([1, 2, 3, 3, 4, 5, 6]); // epoch 4 was lost with the worker; 3 and 4 were redone from the checkpoint
      expect(recovered).toEqual(reference);
    } finally {
      cleanup();
    }
  });

  test('without a checkpoint the run goes back to its start: MultiSWAG learning rates and moments come out exact', async () => {
    const swag: MultiSwagOptions = { model: MODEL, data: DATA, epochs: 4, swagEpochs: 2, swagLr: 0.05, particles: 2, batchSize: 16, devices: 'cpu:0,cpu:1', seed: 9 };
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
