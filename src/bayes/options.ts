// Options of the training functions: what users pass, the defaults, and the
// resolved (JSON-serialisable) form that goes into checkpoints.
import type { PhaseClock } from '../util/phases';
import type { NatsOptions } from '../runtime/nats/options';
import { PushInputError, describeValue } from '../util/errors';
import { LOSS_NAMES, LossName } from '../nn/loss-names';
import { OptimizerConfig, OptimizerInput, parseOptimizerConfig } from '../nn/optimizers';
import { SchedulerConfig, SchedulerInput, parseSchedulerConfig } from '../nn/schedulers';
import type { NonFinitePolicy } from '../runtime/particle-store';
import type { DataInput } from './data';
import type { NanEvent } from './faults';
import type { Posterior } from './posterior';
import type { ProgressCallback } from './progress';

export type AlgorithmName = 'ensemble' | 'mswag' | 'svgd' | 'mcdropout';
export const ALGORITHM_NAMES: readonly AlgorithmName[] = ['ensemble', 'mswag', 'svgd', 'mcdropout'];

/** Reported after every epoch. */
export interface EpochReport {
  /** 1-based number of the epoch just finished. */
  epoch: number;
  /** Total epochs of the run. */
  epochs: number;
  /** Mean training loss of each particle over the epoch (pid order). */
  losses: number[];
  /** Wall time of the epoch. */
  seconds: number;
  /** The posterior being trained, live: evaluate it on a validation set, read its parameters... */
  posterior: Posterior;
  /** Particles skipped or re-initialised in this epoch because of a NaN or infinite loss (onNan 'skip' / 'reinit'). */
  nanEvents: NanEvent[];
}

/** A dead device worker that training restarted (restartWorkers). */
export interface WorkerRestartReport {
  device: string;
  /** Why it died, e.g. "its process was killed by SIGKILL". */
  reason: string;
  /** The particles it held. */
  particles: number[];
  /** Epochs completed at the checkpoint every particle went back to (training redoes the epochs after it). */
  epoch: number;
  /** 1 for the first restart of the run, 2 for the second... */
  restart: number;
}

export interface CheckpointOptions {
  /** Checkpoint directory (written atomically; an existing checkpoint there is replaced). */
  dir: string;
  /** Save every this many epochs (default 1) and after the last. */
  every?: number;
}

/** Options every algorithm takes. */
export interface CommonTrainOptions {
  /** A model spec (src/nn: sequential, dense, biggerNN, lenet, specFromLayersModel), or nn.mlp(hidden) sized from the data. */
  model: unknown;
  data: DataInput;
  /** Default: cross-entropy for classification data, mse otherwise. */
  loss?: LossName;
  /** Default 10. */
  epochs?: number;
  /** Default min(128, N). */
  batchSize?: number;
  /** Default Adam, lr 0.01 (Push's default). */
  optimizer?: OptimizerInput;
  /** Stepped once per epoch. */
  scheduler?: SchedulerInput;
  /** Default 4. */
  particles?: number;
  /** Default "cpu:0". */
  devices?: string | readonly string[];
  /** Base seed: particle k's seed is particleSeed(seed, k); batch orders derive from it too. Default 0. */
  seed?: number;
  cacheSize?: number;
  backend?: string;
  isolation?: string;
  /** NATS servers and credentials for devices of worker hosts ("hostA/cpu:0"; docs/CLUSTER.md). */
  nats?: NatsOptions;
  /** Device-resident training (parameters, gradients and optimizer state stay on the backend). Default: on the tensorflow backend only. */
  resident?: boolean;
  onEpoch?: (report: EpochReport) => void | Promise<void>;
  /**
   * Progress within an epoch: steps done, running mean loss, particle-steps, seconds. Devices
   * report at most every 250 ms (and at each epoch's end), not once per step. Not awaited; one
   * that throws is reported once as a process warning and training goes on.
   */
  onProgress?: ProgressCallback;
  /** Stops training between epochs: the dist is closed and an AbortError thrown (the last checkpoint stays valid). */
  signal?: AbortSignal;
  /** Save a checkpoint every `every` epochs. */
  checkpoint?: CheckpointOptions;
  /** Continue a run from its checkpoint: same data, model and options; ends where an uninterrupted run ends. */
  resumeFrom?: string;
  /** Free-form JSON stored in checkpoints (e.g. the CLI's data spec). */
  meta?: Record<string, unknown>;
  /**
   * A NaN or infinite loss or gradient: 'stop' (default) throws NonFiniteTrainingError naming
   * the particle, epoch and step; 'skip' drops that particle's update; 'reinit' re-initialises
   * the particle. svgd supports 'stop' only.
   */
  onNan?: NonFinitePolicy;
  /**
   * Milliseconds a device may take to answer one message (an epoch, a prediction batch). A device
   * that does not is taken for dead: its worker is killed and the run fails with PushTimeoutError,
   * or, with restartWorkers, the worker is restarted like one that died. Default: no limit.
   */
  timeoutMs?: number;
  /**
   * Restart a dead (or timed-out) device worker up to this many times (default 0: a dead worker
   * fails the run), from the first epoch to the end: the epochs, the checkpoints, the final
   * evaluation and save, and afterTraining. Every particle goes back to the last checkpoint (or
   * the start of the run) and the lost epochs are redone, so the result equals an uninterrupted run's.
   */
  restartWorkers?: number;
  onWorkerRestart?: (report: WorkerRestartReport) => void | Promise<void>;
  /** Charged with each phase of the run (workers ready, data sent, training, evaluation, checkpoint) as it ends. */
  phases?: PhaseClock;
  /**
   * Runs on the trained posterior after the final evaluation and the final checkpoint, still
   * inside restartWorkers' cover: a worker death in it rolls back (to the final checkpoint when
   * there is one), redoes what was lost, and runs it again. E.g. a further evaluation.
   */
  afterTraining?: (posterior: Posterior) => void | Promise<void>;
}

/** How a run reacts to faults; not stored in checkpoints (a resumed run may choose differently). */
export interface FaultPolicy {
  onNan: NonFinitePolicy;
  timeoutMs?: number;
  restartWorkers: number;
}

/** Values of onNan (the runtime's policies; listed here so option checks do not load tfjs). */
export const NAN_POLICIES: readonly NonFinitePolicy[] = ['stop', 'skip', 'reinit'];

export function resolveFaultPolicy(opts: CommonTrainOptions): FaultPolicy {
  const onNan = opts.onNan ?? 'stop';
  if (!NAN_POLICIES.includes(onNan)) throw new PushInputError(`onNan ${describeValue(onNan)}: expected one of ${NAN_POLICIES.join(', ')}`);
  const timeoutMs = opts.timeoutMs === undefined ? undefined : checkNumber(opts.timeoutMs, 'timeoutMs', (v) => v > 0, 'a positive number of milliseconds');
  const restartWorkers = checkInt(opts.restartWorkers ?? 0, 'restartWorkers', 0);
  if (opts.onWorkerRestart !== undefined && typeof opts.onWorkerRestart !== 'function') {
    throw new PushInputError(`onWorkerRestart ${describeValue(opts.onWorkerRestart)}: expected a function`);
  }
  return { onNan, timeoutMs, restartWorkers };
}

/** The options that determine the result, resolved; stored in checkpoints. */
export interface ResolvedCommon {
  loss: LossName;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  scheduler?: SchedulerConfig;
  particles: number;
  seed: number;
}

export function checkInt(v: unknown, what: string, min: number): number {
  if (!Number.isInteger(v) || (v as number) < min) throw new PushInputError(`${what} ${describeValue(v)}: expected a whole number >= ${min}`);
  return v as number;
}

export function checkNumber(v: unknown, what: string, ok: (v: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new PushInputError(`${what} ${describeValue(v)}: expected ${expected}`);
  return v;
}

export function resolveCommon(opts: CommonTrainOptions, n: number, defaultLoss: LossName): ResolvedCommon {
  const loss = opts.loss ?? defaultLoss;
  if (!LOSS_NAMES.includes(loss)) throw new PushInputError(`loss ${describeValue(loss)}: expected one of ${LOSS_NAMES.join(', ')}`);
  if (n < 1) throw new PushInputError('the training data has no examples: expected at least 1');
  const epochs = checkInt(opts.epochs ?? 10, 'epochs', 0);
  const batchSize = opts.batchSize === undefined ? Math.min(128, n) : checkInt(opts.batchSize, 'batchSize', 1);
  if (batchSize > n) throw new PushInputError(`batchSize ${batchSize}: expected at most ${n}, the number of training examples`);
  const particles = checkInt(opts.particles ?? 4, 'particles', 1);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PushInputError(`seed ${describeValue(seed)}: expected a whole number in [0, 4294967295]`);
  const optimizer = parseOptimizerConfig(opts.optimizer ?? { type: 'adam', lr: 0.01 });
  const scheduler = opts.scheduler === undefined ? undefined : parseSchedulerConfig(opts.scheduler);
  if (opts.checkpoint !== undefined) {
    if (!opts.checkpoint || typeof opts.checkpoint.dir !== 'string' || opts.checkpoint.dir === '') throw new PushInputError(`checkpoint ${describeValue(opts.checkpoint)}: expected {dir, every?}`);
    checkInt(opts.checkpoint.every ?? 1, 'checkpoint.every', 1);
  }
  if (opts.onEpoch !== undefined && typeof opts.onEpoch !== 'function') throw new PushInputError(`onEpoch ${describeValue(opts.onEpoch)}: expected a function`);
  if (opts.afterTraining !== undefined && typeof opts.afterTraining !== 'function') throw new PushInputError(`afterTraining ${describeValue(opts.afterTraining)}: expected a function`);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new PushInputError(`onProgress ${describeValue(opts.onProgress)}: expected a function`);
  return { loss, epochs, batchSize, optimizer, scheduler, particles, seed };
}

// ------------------------------------------------------------- algorithm options

export interface EnsembleOptions extends CommonTrainOptions {
  /** Each particle trains on its own resample (with replacement) of the training set. */
  bootstrap?: boolean;
  /** Random-prior networks (Osband et al. 2018): output = trainable(x) + beta * prior(x). */
  randomPrior?: { beta: number };
}

export interface ResolvedEnsemble {
  bootstrap: boolean;
  priorBeta: number | null;
}

export function resolveEnsemble(o: EnsembleOptions): ResolvedEnsemble {
  const bootstrap = o.bootstrap ?? false;
  if (typeof bootstrap !== 'boolean') throw new PushInputError(`bootstrap ${describeValue(bootstrap)}: expected true or false`);
  let priorBeta: number | null = null;
  if (o.randomPrior !== undefined) {
    if (!o.randomPrior || typeof o.randomPrior !== 'object') throw new PushInputError(`randomPrior ${describeValue(o.randomPrior)}: expected {beta}`);
    priorBeta = checkNumber(o.randomPrior.beta, 'randomPrior.beta', (v) => v >= 0, 'a number >= 0');
  }
  return { bootstrap, priorBeta };
}

export interface MultiSwagOptions extends CommonTrainOptions {
  /** Epochs that collect SWAG moments: the last swagEpochs of `epochs`. Default max(1, round(epochs / 4)). */
  swagEpochs?: number;
  /** Alternative to swagEpochs: epochs before collection starts. */
  pretrainEpochs?: number;
  /** Learning rate during the SWAG epochs (default: the optimizer's). */
  swagLr?: number;
  /** K, the deviations kept for the low-rank term. Default 20. */
  rank?: number;
  /** Collect every this many SWAG epochs (default 1: once per epoch). */
  collectEvery?: number;
  /** Covariance scale at sampling time. Default 0.5. */
  scale?: number;
  /** Floor of the diagonal variance. Default 1e-30. */
  varClamp?: number;
  /** Weight samples per particle at prediction. Default 20. */
  numSamples?: number;
}

export interface ResolvedSwag {
  pretrainEpochs: number;
  swagEpochs: number;
  swagLr: number | null;
  rank: number;
  collectEvery: number;
  scale: number;
  varClamp: number;
  numSamples: number;
}

export function resolveSwag(o: MultiSwagOptions, epochs: number): ResolvedSwag {
  let swagEpochs: number;
  if (o.swagEpochs !== undefined) swagEpochs = checkInt(o.swagEpochs, 'swagEpochs', 1);
  else if (o.pretrainEpochs !== undefined) swagEpochs = epochs - checkInt(o.pretrainEpochs, 'pretrainEpochs', 0);
  else swagEpochs = Math.max(1, Math.round(epochs / 4));
  const pretrainEpochs = epochs - swagEpochs;
  if (swagEpochs < 1 || pretrainEpochs < 0) {
    throw new PushInputError(`MultiSWAG with ${epochs} epochs cannot have ${swagEpochs} SWAG epochs: expected 1 <= swagEpochs <= epochs (epochs counts pretraining and SWAG epochs)`);
  }
  if (o.pretrainEpochs !== undefined && o.pretrainEpochs !== pretrainEpochs) {
    throw new PushInputError(`pretrainEpochs ${o.pretrainEpochs} + swagEpochs ${swagEpochs} != epochs ${epochs}: expected them to add up`);
  }
  return {
    pretrainEpochs,
    swagEpochs,
    swagLr: o.swagLr === undefined ? null : checkNumber(o.swagLr, 'swagLr', (v) => v >= 0, 'a number >= 0'),
    rank: checkInt(o.rank ?? 20, 'rank', 0),
    collectEvery: checkInt(o.collectEvery ?? 1, 'collectEvery', 1),
    scale: checkNumber(o.scale ?? 0.5, 'scale', (v) => v >= 0, 'a number >= 0'),
    varClamp: checkNumber(o.varClamp ?? 1e-30, 'varClamp', (v) => v >= 0, 'a number >= 0'),
    numSamples: checkInt(o.numSamples ?? 20, 'numSamples', 1),
  };
}

export interface SvgdTrainOptions extends CommonTrainOptions {
  /** Posterior temperature T. Default 1. */
  temperature?: number;
  /** Std of the Gaussian prior on every weight. Default 1. */
  priorStd?: number;
  /** RBF bandwidth h: 'median' (default) or a number. */
  bandwidth?: 'median' | number;
  /** Keep the repulsive kernel-gradient term (default true; false makes particles collapse, for tests). */
  repulsive?: boolean;
}

export interface ResolvedSvgd {
  temperature: number;
  priorStd: number;
  bandwidth: 'median' | number;
  repulsive: boolean;
}

export function resolveSvgd(o: SvgdTrainOptions): ResolvedSvgd {
  const bandwidth = o.bandwidth ?? 'median';
  if (bandwidth !== 'median') checkNumber(bandwidth, 'bandwidth', (v) => v > 0, '"median" or a number > 0');
  const repulsive = o.repulsive ?? true;
  if (typeof repulsive !== 'boolean') throw new PushInputError(`repulsive ${describeValue(repulsive)}: expected true or false`);
  return {
    temperature: checkNumber(o.temperature ?? 1, 'temperature', (v) => v > 0, 'a number > 0'),
    priorStd: checkNumber(o.priorStd ?? 1, 'priorStd', (v) => v > 0, 'a number > 0'),
    bandwidth,
    repulsive,
  };
}

export interface McDropoutOptions extends CommonTrainOptions {
  /** Rate of the dropout layers added to a model that has none (after each hidden activation). Default 0.1. */
  dropout?: number;
  /** Dropout passes per particle at prediction. Default 20. */
  numSamples?: number;
}

export interface ResolvedMcDropout {
  dropout: number;
  numSamples: number;
}

export function resolveMcDropout(o: McDropoutOptions): ResolvedMcDropout {
  return {
    dropout: checkNumber(o.dropout ?? 0.1, 'dropout', (v) => v > 0 && v < 1, 'a rate in (0, 1)'),
    numSamples: checkInt(o.numSamples ?? 20, 'numSamples', 1),
  };
}
