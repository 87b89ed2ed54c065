// The options every algorithm shares, resolved (the JSON-serialisable form that
// goes into checkpoints), and the fault policy. What users pass is
// train-options.ts; each algorithm's own options are in its folder.
import { PushInputError, describeValue } from '../util/errors';
import { LOSS_NAMES, LossName } from '../nn/loss-names';
import { OptimizerConfig, OptimizerInput, parseOptimizerConfig } from '../nn/optimizers';
import { SchedulerConfig, SchedulerInput, parseSchedulerConfig } from '../nn/schedulers';
import type { NonFinitePolicy } from '../runtime/particle-store';
import { COMMON_DEFAULTS } from './defaults';

export { COMMON_DEFAULTS };

/** An algorithm's name, one of the registry's (src/bayes/algorithms/registry.ts). */
export type AlgorithmName = string;

/** The common options as resolveCommon reads them (train-options.ts's CommonTrainOptions gives the precise types). */
export interface CommonInput {
  loss?: LossName;
  epochs?: number;
  batchSize?: number;
  optimizer?: OptimizerInput;
  scheduler?: SchedulerInput;
  particles?: number;
  seed?: number;
  checkpoint?: { dir: string; every?: number };
  onEpoch?: unknown;
  afterTraining?: unknown;
  onProgress?: unknown;
  onNan?: NonFinitePolicy;
  timeoutMs?: number;
  restartWorkers?: number;
  onWorkerRestart?: unknown;
}

/** How a run reacts to faults; not stored in checkpoints (a resumed run may choose differently). */
export interface FaultPolicy {
  onNan: NonFinitePolicy;
  timeoutMs?: number;
  restartWorkers: number;
}

/** Values of onNan (the runtime's policies; listed here so option checks do not load tfjs). */
export const NAN_POLICIES: readonly NonFinitePolicy[] = ['stop', 'skip', 'reinit'];

export function resolveFaultPolicy(opts: CommonInput): FaultPolicy {
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

export function resolveCommon(opts: CommonInput, n: number, defaultLoss: LossName): ResolvedCommon {
  const loss = opts.loss ?? defaultLoss;
  if (!LOSS_NAMES.includes(loss)) throw new PushInputError(`loss ${describeValue(loss)}: expected one of ${LOSS_NAMES.join(', ')}`);
  if (n < 1) throw new PushInputError('the training data has no examples: expected at least 1');
  const epochs = checkInt(opts.epochs ?? COMMON_DEFAULTS.epochs, 'epochs', 0);
  const batchSize = opts.batchSize === undefined ? Math.min(COMMON_DEFAULTS.batchSize, n) : checkInt(opts.batchSize, 'batchSize', 1);
  if (batchSize > n) throw new PushInputError(`batchSize ${batchSize}: expected at most ${n}, the number of training examples`);
  const particles = checkInt(opts.particles ?? COMMON_DEFAULTS.particles, 'particles', 1);
  const seed = opts.seed ?? COMMON_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PushInputError(`seed ${describeValue(seed)}: expected a whole number in [0, 4294967295]`);
  const optimizer = parseOptimizerConfig(opts.optimizer ?? { ...COMMON_DEFAULTS.optimizer });
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
