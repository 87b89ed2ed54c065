// What users pass to the training functions: the options every algorithm takes
// (each algorithm's own are in its folder) and the reports training makes.
import type { PhaseClock } from '../util/phases';
import type { LossName } from '../nn/losses';
import type { OptimizerInput } from '../nn/optimizers';
import type { SchedulerInput } from '../nn/schedulers';
import type { NonFinitePolicy } from '../runtime/particle-store';
import type { NatsOptions } from '../runtime/nats/options';
import type { DataInput } from './data';
import type { NanEvent } from './faults';
import type { CommonInput } from './options';
import type { OpenedCheckpoint, Posterior } from './posterior';
import type { ProgressCallback } from './progress';

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
export interface CommonTrainOptions extends CommonInput {
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
  resumeFrom?: string | OpenedCheckpoint;
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

