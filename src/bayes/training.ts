// The training loop every algorithm shares: validate options and data, start
// (or resume) the particles on their devices, run the algorithm's epochs with
// progress reports and periodic checkpoints (holding the checkpoint directory's
// lock for the whole run), then estimate the noise variance,
// evaluate the held-out split and hand back a live Posterior.
import { PushInputError, describeValue } from '../util/errors';
import { particleSeed } from '../util/rng';
import { isMlpTemplate, resolveMlp, validateSpec } from '../nn/spec';
import { modelIO } from '../nn/model-io';
import type { ModelSpec } from '../nn/spec';
import { CheckpointReader, checkCheckpointTarget, readCheckpointDir } from './checkpoint-dir';
import { acquireCheckpointLock } from './checkpoint-lock';
import { NormalizedData, TrainingData, dataHash, fitDataToModel, modelIOFromData, normalizeData } from './data';
import type { ParticleConfig } from './device/messages';
import { launchCluster, optimizerSlotNames } from './launch';
import { FaultPolicy, ResolvedCommon, checkInt, resolveCommon, resolveFaultPolicy } from './options';
import type { CommonTrainOptions } from './train-options';
import { ParticleState, decodeParticles, restoredConfig } from './particle-state';
import { EvaluationResult, OpenedCheckpoint, Posterior, PosteriorInfo, infoFromManifest } from './posterior';
import type { ArrayData } from '../runtime/training-handlers';
import type { Normalization } from '../data/dataset';
import { denormalizeInputs, denormalizeTargets } from '../data/normalization';
import { WorkerRecovery } from './recovery';
import { ProgressTracker } from './progress';
import { batchOrderSeed } from './seeds';
import { TRAIN_DATA_KEY } from './algorithms/shared/stacked-epoch';
import type { Algorithm, AlgorithmDriver, RunContext } from './algorithms/types';

export { TRAIN_DATA_KEY };
export type { AlgorithmDriver, RunContext };

/** An algorithm's resolved options and driver for one run. */
interface Resolved {
  algorithm: Algorithm<any>;
  options: Record<string, unknown>;
  driver: AlgorithmDriver;
}

/** Data, options and model, checked; then the algorithm's options and driver. */
export function prepareRun(algorithm: Algorithm<any>, opts: CommonTrainOptions): { data: TrainingData; common: ResolvedCommon; run: Resolved; faults: FaultPolicy } {
  if (!opts || typeof opts !== 'object') throw new PushInputError(`training options ${describeValue(opts)}: expected an object with model and data`);
  if (opts.model === undefined) throw new PushInputError('training options need a model spec (options.model)');
  if (opts.data === undefined) throw new PushInputError('training options need data (options.data)');
  let spec: ModelSpec;
  let raw: NormalizedData;
  let common: ResolvedCommon;
  if (isMlpTemplate(opts.model)) {
    // nn.mlp(hidden): input and output sizes come from the data, as for the CLI's mlp:H1,H2.
    raw = normalizeData(opts.data);
    common = resolveCommon(opts, raw.train.xShape[0], raw.task === 'classification' ? 'cross-entropy' : 'mse');
    spec = resolveMlp(opts.model, modelIOFromData(raw, common.loss));
  } else {
    spec = validateSpec(opts.model);
    raw = normalizeData(opts.data, modelIO(spec).inputShape);
    common = resolveCommon(opts, raw.train.xShape[0], raw.task === 'classification' ? 'cross-entropy' : 'mse');
  }
  const io = modelIO(spec);
  const data = fitDataToModel(raw, { inputShape: io.inputShape, outputSize: io.outputSize, loss: common.loss });
  const faults = resolveFaultPolicy(opts);
  const options = algorithm.resolve(opts as unknown as Record<string, unknown>, common);
  if (algorithm.minParticles !== undefined && common.particles < algorithm.minParticles) {
    throw new PushInputError(`particles ${common.particles}: ${algorithm.name} needs at least ${algorithm.minParticles}`);
  }
  if (algorithm.nanPolicies && !algorithm.nanPolicies.includes(faults.onNan)) {
    throw new PushInputError(`onNan ${describeValue(faults.onNan)}: ${algorithm.name} supports only ${algorithm.nanPolicies.map((p) => `"${p}"`).join(', ')}`);
  }
  const driver = algorithm.driver(options, spec, common, { numParams: io.numParams, outputSize: io.outputSize, loss: common.loss });
  return { data, common, run: { algorithm, options, driver }, faults };
}

/** Trains `algorithm` with the options: the shared loop of every train function. */
export async function runTraining(algorithm: Algorithm<any>, opts: CommonTrainOptions): Promise<Posterior> {
  const run = prepareRun(algorithm, opts);
  const every = opts.checkpoint ? checkInt(opts.checkpoint.every ?? 1, 'checkpoint.every', 1) : 0;
  if (!opts.checkpoint) return trainPrepared(opts, run, every);
  // One writer per checkpoint directory, from before any worker starts to the end of the run.
  checkCheckpointTarget(opts.checkpoint.dir);
  const lock = acquireCheckpointLock(opts.checkpoint.dir);
  try {
    return await trainPrepared(opts, run, every);
  } finally {
    lock.release();
  }
}

async function trainPrepared(opts: CommonTrainOptions, prepared: ReturnType<typeof prepareRun>, every: number): Promise<Posterior> {
  const { data, common, faults } = prepared;
  const { algorithm, driver } = prepared.run;
  const io = modelIO(driver.model);
  const hash = dataHash(data.train);
  const seeds = Array.from({ length: common.particles }, (_, k) => particleSeed(common.seed, k));
  const resumed = opts.resumeFrom !== undefined ? openResume(opts.resumeFrom, { run: prepared.run, common, hash, numParams: io.numParams }) : undefined;
  const setups = seeds.map((seed, pid) => driver.setup(pid, seed));
  const freshConfigs: ParticleConfig[] = setups.map((setup, pid) => ({ pid, ...(setup !== undefined ? { setup } : {}) }));
  // Restored particles keep their saved lr, seed and algorithm state; bootstrap resamples re-derive from seeds.
  const configs = resumed ? seeds.map((_, pid) => restoredConfig(pid, resumed.states[pid], setups[pid])) : freshConfigs;
  const info: PosteriorInfo = {
    algorithm: algorithm.name,
    common,
    options: prepared.run.options,
    model: driver.model,
    numParams: io.numParams,
    inputShape: io.inputShape,
    outputSize: io.outputSize,
    task: data.task,
    numClasses: data.numClasses,
    gaussian: common.loss === 'gaussian-nll',
    particleSeeds: seeds,
    epoch: resumed?.epoch ?? 0,
    data: { name: data.name, trainSize: data.train.xShape[0], hash, normalization: data.normalization },
    trainLosses: resumed?.trainLosses,
    meta: opts.meta,
    devices: [],
  };
  opts.signal?.throwIfAborted();
  const phases = opts.phases;
  phases?.lap('load');
  const cluster = await launchCluster({
    algorithm: algorithm.name,
    cluster: {
      model: driver.model,
      deviceModule: algorithm.deviceModule,
      devices: opts.devices,
      backend: opts.backend,
      isolation: opts.isolation,
      nats: opts.nats,
      cacheSize: opts.cacheSize,
      resident: opts.resident,
      seed: common.seed,
      timeoutMs: faults.timeoutMs,
    },
    common,
    seeds,
    states: resumed?.states,
    data: { key: TRAIN_DATA_KEY, data: data.train },
    configs,
    phases,
  });
  info.devices = cluster.devices;
  const posterior = new Posterior(cluster, info, algorithm);
  const progress = opts.onProgress ? new ProgressTracker(cluster, common.epochs, opts.onProgress) : undefined;
  try {
    const ctx: RunContext = {
      cluster,
      common,
      dataKey: TRAIN_DATA_KEY,
      batchSeed: batchOrderSeed(common.seed),
      trainSize: data.train.xShape[0],
      numParams: io.numParams,
      outputSize: io.outputSize,
      onNan: faults.onNan,
      nanEvents: [],
      progress,
    };
    const recovery =
      faults.restartWorkers > 0
        ? await WorkerRecovery.start(
            {
              cluster,
              dataKey: TRAIN_DATA_KEY,
              data: data.train,
              algorithm,
              setups,
              numParams: io.numParams,
              slotNames: optimizerSlotNames(common),
              limit: faults.restartWorkers,
              onRestart: opts.onWorkerRestart,
            },
            resumed,
          )
        : undefined;
    // One try covers the run from the first epoch to the end -- epochs, checkpoints, the final
    // evaluation and save, and opts.afterTraining -- so that a worker death (or timeout) anywhere
    // in it is recovered the same way: roll back, redo the epochs after the rollback point, and
    // do the final part again.
    let e = info.epoch;
    for (;;) {
      try {
        for (; e < common.epochs; e++) {
          opts.signal?.throwIfAborted();
          const t0 = performance.now();
          ctx.nanEvents.length = 0;
          phases?.firstStepSent();
          progress?.begin(e);
          const losses = await driver.runEpoch(ctx, e);
          phases?.lap('training');
          // Under 'skip' or 'reinit' a particle that took no finite step has a NaN mean loss, by design.
          const bad = faults.onNan === 'stop' ? losses.findIndex((l) => !Number.isFinite(l)) : -1;
          if (bad >= 0) throw new PushInputError(`epoch ${e + 1}: particle ${bad}'s training loss is ${losses[bad]}: training diverged (expected a finite loss; try a smaller learning rate)`);
          info.epoch = e + 1;
          info.trainLosses = losses;
          if (every && info.epoch < common.epochs && info.epoch % every === 0) {
            await posterior.save(opts.checkpoint!.dir);
            recovery?.saved(opts.checkpoint!.dir, info.epoch, losses);
            phases?.lap('checkpoint');
          }
          const nanEvents = ctx.nanEvents.splice(0);
          await opts.onEpoch?.({ epoch: info.epoch, epochs: common.epochs, losses, seconds: (performance.now() - t0) / 1000, posterior, nanEvents });
        }
        opts.signal?.throwIfAborted();
        info.timing = cluster.timing.report();
        // bce outputs are logits of independent labels: no Gaussian noise model, no metrics here.
        if (common.loss === 'mse') info.noiseVariance = await posterior.estimateNoiseVariance({ x: data.train.x, xShape: data.train.xShape }, data.train.y);
        if (data.test && common.loss !== 'bce') info.metrics = await evaluateInOriginalUnits(posterior, data.test, data.normalization);
        phases?.lap('evaluation');
        if (every) {
          await posterior.save(opts.checkpoint!.dir);
          // A death after this point goes back to the final checkpoint: no epoch is redone.
          recovery?.saved(opts.checkpoint!.dir, info.epoch, info.trainLosses);
        }
        phases?.lap('checkpoint');
        await opts.afterTraining?.(posterior);
        progress?.close();
        return posterior;
      } catch (err) {
        const back = opts.signal?.aborted ? undefined : await recovery?.recover(err);
        if (!back) throw err;
        info.epoch = e = back.epoch;
        info.trainLosses = back.trainLosses;
        info.noiseVariance = undefined;
        info.metrics = undefined;
      }
    }
  } catch (err) {
    progress?.close();
    await posterior.close();
    throw err;
  }
}

/**
 * The held-out metrics in the data's original units, as the CLI reports them: standardized
 * test data is mapped back first (without a normalization the units are the data's own).
 */
function evaluateInOriginalUnits(posterior: Posterior, test: ArrayData, norm: Normalization | undefined): Promise<EvaluationResult> {
  if (!norm) return posterior.evaluate({ x: test.x, xShape: test.xShape }, test.y);
  const y = posterior.task === 'regression' ? denormalizeTargets(test.y, norm) : test.y;
  return posterior.evaluate({ x: denormalizeInputs(test.x, norm), xShape: test.xShape }, y, { originalUnits: true });
}

/** Opens a checkpoint to resume from and checks that it belongs to this run. */
function openResume(from: string | OpenedCheckpoint, run: { run: Resolved; common: ResolvedCommon; hash: string; numParams: number }): { states: ParticleState[]; epoch: number; trainLosses?: number[]; reader: CheckpointReader } {
  // A checkpoint the caller already read and checked is not read again.
  const opened = typeof from === 'string' ? undefined : from;
  const dir = opened ? opened.dir : (from as string);
  const reader = opened ? opened.reader : readCheckpointDir(dir);
  const { algorithm, driver, options } = run.run;
  const info = opened ? opened.info : infoFromManifest(reader.manifest, dir);
  const mismatch = (what: string, theirs: unknown, ours: unknown) =>
    new PushInputError(`cannot resume from ${dir}: its ${what} is ${describeValue(theirs)}, this run's is ${describeValue(ours)} (expected the options of the run that wrote it)`);
  if (info.algorithm !== algorithm.name) throw mismatch('algorithm', info.algorithm, algorithm.name);
  if (JSON.stringify(info.model) !== JSON.stringify(driver.model)) throw mismatch('model', info.model, driver.model);
  for (const [key, ours] of Object.entries(run.common)) {
    if (key === 'epochs') continue;
    const theirs = (info.common as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(theirs) !== JSON.stringify(ours)) throw mismatch(key, theirs, ours);
  }
  for (const key of algorithm.resumeKeys) {
    const theirs = (info.options as unknown as Record<string, unknown>)[key];
    const ours = options[key];
    if (JSON.stringify(theirs) !== JSON.stringify(ours)) throw mismatch(key, theirs, ours);
  }
  if (info.data?.hash !== run.hash) throw new PushInputError(`cannot resume from ${dir}: it was trained on other data (the training set's sha256 differs)`);
  if (info.epoch > run.common.epochs) throw new PushInputError(`cannot resume from ${dir}: it has trained ${info.epoch} epochs, more than this run's ${run.common.epochs}`);
  const states = opened ? opened.states : decodeParticles(reader, reader.manifest.particles, run.numParams, optimizerSlotNames(run.common), algorithm);
  if (states.length !== run.common.particles) throw mismatch('number of particles', states.length, run.common.particles);
  return { states, epoch: info.epoch, trainLosses: info.trainLosses, reader };
}
