// The typed coordinator -> device messages of the Bayesian layer: each message
// name with its argument and result types. ParticleCluster.call checks both at
// compile time; the device handlers (device/handlers.ts) implement them.
import type { ArrayData } from '../../runtime/training-handlers';
import type { DeviceNanEvent } from '../faults';

/** A particle's set-up on its device: base lr and seed, and the algorithm's own set-up and saved state. */
export interface ParticleConfig {
  pid: number;
  /** Base learning rate (checkpoints restore it). */
  lr?: number;
  /** The particle's seed (dropout masks derive from it; onNan 'reinit' draws a new one; checkpoints restore it). */
  seed?: number;
  /** The algorithm's per-particle set-up (AlgorithmDriver.setup). */
  setup?: unknown;
  /** Saved algorithm state to restore (a checkpoint's, decoded by the algorithm's codec). */
  state?: unknown;
}

/** A particle's full state as a worker exports it for a checkpoint. */
export interface ParticleExport {
  pid: number;
  seed: number;
  lr: number;
  params: Float32Array;
  slots: Record<string, Float32Array>;
  step: number;
  schedulerCount: number;
  /** The algorithm's own state (its codec encodes it). */
  state?: unknown;
}

export interface EpochArgs {
  key: string;
  pids: number[];
  /** 0-based epoch number: the batch order depends only on (batchSeed, epoch). */
  epoch: number;
  batchSize: number;
  loss: string;
  batchSeed: number;
  /** After the epoch, one scheduler step per particle (PyTorch's per-epoch convention). */
  stepScheduler?: boolean;
  /** A NaN or infinite loss or gradient: stop (default), skip the particle's update, or re-initialise it. */
  onNan?: 'stop' | 'skip' | 'reinit';
  /** Report progress (p.emit) at least this many ms apart and at the end of the epoch; absent: no reports. */
  progressMs?: number;
  /** The algorithm's own per-epoch arguments. */
  extra?: Record<string, unknown>;
}

export interface EpochResult {
  /** Mean loss per particle over the steps it took (NaN if it took none). */
  losses: number[];
  ms: number;
  /** Particles skipped or re-initialised (onNan 'skip' / 'reinit'). */
  nanEvents: DeviceNanEvent[];
  steps: number;
  /** onNan 'stop': the step where a particle's loss or gradient was not finite; the epoch ended there. */
  stopped?: { pid: number; loss: number; step: number };
}

export interface PredictArgs {
  algorithm: string;
  pids: number[];
  x: Float32Array;
  xShape: number[];
  /** Members per particle. */
  perParticle: number;
  /** The algorithm's prediction plan arguments. */
  args?: Record<string, unknown>;
  /** One per listed pid (e.g. a sample seed). */
  perPid?: unknown[];
}

/** Message name -> argument and result. */
export interface DeviceMessages {
  bayesSetData: { args: { key: string; data: ArrayData }; result: number };
  bayesConfigure: { args: { algorithm: string; particles: ParticleConfig[] }; result: null };
  bayesSetLr: { args: { pids: number[]; lr: number; constant?: boolean }; result: null };
  bayesPredict: { args: PredictArgs; result: { out: Float32Array; ms: number } };
  bayesExport: { args: { algorithm: string; pids: number[] }; result: ParticleExport[] };
  pushNumTensors: { args: undefined; result: number };
}

export type DeviceMessage = keyof DeviceMessages;
