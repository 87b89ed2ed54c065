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
import { checkCheckpointTarget, readCheckpointDir } from './checkpoint-dir';
import { acquireCheckpointLock } from './checkpoint-lock';
import type { ParticleCluster } from './cluster';
import { NormalizedData, TrainingData, dataHash, fitDataToModel, modelIOFromData, normalizeData } from './data';
import type { NonFinitePolicy } from '../runtime/particle-store';
import { NanEvent, NonFiniteTrainingError } from './faults';
import type { EpochArgs, EpochResult, ParticleConfig } from './handlers';
import { launchCluster, optimizerSlotNames } from './launch';
import { AlgorithmName, CommonTrainOptions, FaultPolicy, ResolvedCommon, checkInt, resolveCommon, resolveFaultPolicy } from './options';
import { ParticleState, decodeParticles, restoredConfig } from './particle-state';
import { AlgorithmOptions, Posterior, PosteriorInfo, infoFromManifest } from './posterior';
import { WorkerRecovery } from './recovery';
import { PROGRESS_INTERVAL_MS, ProgressTracker } from './progress';
import { batchOrderSeed } from './seeds';

/** Key under which the training set is kept on every device. */
export const TRAIN_DATA_KEY = 'bayes-train';

export interface RunContext {
  cluster: ParticleCluster;
  common: ResolvedCommon;
  dataKey: string;
  /** Seed of the batch order (epoch e's permutation derives from (batchSeed, e)). */
  batchSeed: number;
  trainSize: number;
  numParams: number;
  onNan: NonFinitePolicy;
  /** Where an epoch reports the particles it skipped or re-initialised (drained after each epoch). */
  nanEvents: NanEvent[];
  /** Present when the run has an onProgress: epochs report their steps as they go. */
  progress?: ProgressTracker;
}

/** What makes one algorithm different from the others. */
export interface AlgorithmDriver {
  readonly algorithm: AlgorithmName;
  readonly options: AlgorithmOptions;
  /** The model the particles hold (MC dropout may add dropout layers). */
  readonly model: ModelSpec;
  /** Option names that must match for a run to resume from a checkpoint (prediction-time options left out). */
  readonly resumeKeys: readonly string[];
  /** Algorithm set-up of a particle (random prior, SWAG moments, bootstrap resample). */
  configure(pid: number, seed: number): Omit<ParticleConfig, 'pid'>;
  /** Runs 0-based epoch `epoch`; returns each particle's mean training loss (pid order). */
  runEpoch(ctx: RunContext, epoch: number): Promise<number[]>;
}

/** One stacked epoch on every device (one message per device); losses in pid order. */
export async function stackedEpoch(ctx: RunContext, epoch: number, extra: Partial<EpochArgs> = {}): Promise<number[]> {
  const replies = await ctx.cluster.timedRound<EpochResult>('bayesTrainEpoch', (pids) => ({
    key: ctx.dataKey,
    pids,
    epoch,
    batchSize: ctx.common.batchSize,
    loss: ctx.common.loss,
    batchSeed: ctx.batchSeed,
    stepScheduler: true,
    onNan: ctx.onNan,
    progressMs: ctx.progress ? PROGRESS_INTERVAL_MS : undefined,
    ...extra,
  }));
  // Devices step independently: report the earliest stop (then the lowest pid).
  const stops = replies.flatMap((r) => (r.stopped ? [{ ...r.stopped, steps: r.steps }] : [])).sort((a, b) => a.step - b.step || a.pid - b.pid);
  if (stops.length > 0) {
    const s = stops[0];
    throw new NonFiniteTrainingError(s.pid, epoch + 1, s.step + 1, s.steps, s.loss);
  }
  const events = replies.flatMap((r) => r.nanEvents.map((e) => ({ ...e, epoch: epoch + 1, step: e.step + 1, steps: r.steps })));
  ctx.nanEvents.push(...events.sort((a, b) => a.step - b.step || a.pid - b.pid));
  const losses = new Array<number>(ctx.cluster.numParticles);
  ctx.cluster.deviceGroups().forEach(({ pids }, g) => pids.forEach((pid, j) => (losses[pid] = replies[g].losses[j])));
  return losses;
}

/** Data, options and model, checked; then the driver of the algorithm. */
export function prepareRun(
  opts: CommonTrainOptions,
  build: (common: ResolvedCommon, model: ModelSpec) => AlgorithmDriver,
): { data: TrainingData; common: ResolvedCommon; driver: AlgorithmDriver; faults: FaultPolicy } {
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
  const driver = build(common, spec);
  if (driver.algorithm === 'svgd' && faults.onNan !== 'stop') {
    throw new PushInputError(`onNan ${describeValue(faults.onNan)}: svgd supports only "stop" (one particle's non-finite gradient would enter every particle's Stein direction)`);
  }
  return { data, common, driver, faults };
}

export async function runTraining(opts: CommonTrainOptions, build: (common: ResolvedCommon, model: ModelSpec) => AlgorithmDriver): Promise<Posterior> {
  const run = prepareRun(opts, build);
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
  const { data, common, driver, faults } = prepared;
  const io = modelIO(driver.model);
  const hash = dataHash(data.train);
  const seeds = Array.from({ length: common.particles }, (_, k) => particleSeed(common.seed, k));
  const resumed = opts.resumeFrom !== undefined ? openResume(opts.resumeFrom, { driver, common, hash, numParams: io.numParams }) : undefined;
  const priorBeta = driver.algorithm === 'ensemble' ? (driver.options as { priorBeta: number | null }).priorBeta : null;
  const freshConfigs: ParticleConfig[] = seeds.map((seed, pid) => ({ pid, ...driver.configure(pid, seed) }));
  // Restored particles keep their saved lr, seed, prior and SWAG moments; bootstrap resamples re-derive from seeds.
  const configs = resumed ? freshConfigs.map((fresh, pid) => ({ ...fresh, ...restoredConfig(pid, resumed.states[pid], priorBeta) })) : freshConfigs;
  const info: PosteriorInfo = {
    algorithm: driver.algorithm,
    common,
    options: driver.options,
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
    cluster: {
      model: driver.model,
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
  const posterior = new Posterior(cluster, info);
  const progress = opts.onProgress ? new ProgressTracker(cluster, common.epochs, opts.onProgress) : undefined;
  try {
    const ctx: RunContext = {
      cluster,
      common,
      dataKey: TRAIN_DATA_KEY,
      batchSeed: batchOrderSeed(common.seed),
      trainSize: data.train.xShape[0],
      numParams: io.numParams,
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
              freshConfigs,
              priorBeta,
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
        if (data.test && common.loss !== 'bce') info.metrics = await posterior.evaluate({ x: data.test.x, xShape: data.test.xShape }, data.test.y);
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

/** Opens a checkpoint to resume from and checks that it belongs to this run. */
function openResume(dir: string, run: { driver: AlgorithmDriver; common: ResolvedCommon; hash: string; numParams: number }): { states: ParticleState[]; epoch: number; trainLosses?: number[] } {
  const reader = readCheckpointDir(dir);
  const info = infoFromManifest(reader.manifest, dir);
  const mismatch = (what: string, theirs: unknown, ours: unknown) =>
    new PushInputError(`cannot resume from ${dir}: its ${what} is ${describeValue(theirs)}, this run's is ${describeValue(ours)} (expected the options of the run that wrote it)`);
  if (info.algorithm !== run.driver.algorithm) throw mismatch('algorithm', info.algorithm, run.driver.algorithm);
  if (JSON.stringify(info.model) !== JSON.stringify(run.driver.model)) throw mismatch('model', info.model, run.driver.model);
  for (const [key, ours] of Object.entries(run.common)) {
    if (key === 'epochs') continue;
    const theirs = (info.common as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(theirs) !== JSON.stringify(ours)) throw mismatch(key, theirs, ours);
  }
  for (const key of run.driver.resumeKeys) {
    const theirs = (info.options as unknown as Record<string, unknown>)[key];
    const ours = (run.driver.options as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(theirs) !== JSON.stringify(ours)) throw mismatch(key, theirs, ours);
  }
  if (info.data?.hash !== run.hash) throw new PushInputError(`cannot resume from ${dir}: it was trained on other data (the training set's sha256 differs)`);
  if (info.epoch > run.common.epochs) throw new PushInputError(`cannot resume from ${dir}: it has trained ${info.epoch} epochs, more than this run's ${run.common.epochs}`);
  const states = decodeParticles(reader, reader.manifest.particles, run.numParams, optimizerSlotNames(run.common));
  if (states.length !== run.common.particles) throw mismatch('number of particles', states.length, run.common.particles);
  return { states, epoch: info.epoch, trainLosses: info.trainLosses };
}
