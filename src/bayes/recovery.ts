// Restarting dead device workers during training (restartWorkers). Particles on
// different devices must stay at the same epoch (SVGD couples them every step,
// and a checkpoint holds one epoch), so a death rolls EVERY particle back to the
// last checkpoint -- or to the run's start, or the checkpoint it resumed from --
// and training redoes the epochs after it. Batch orders, dropout masks and
// resamples derive from (seed, epoch), so the redone epochs repeat exactly and
// the run ends with the parameters of an uninterrupted one. A worker that
// stopped answering within the run's timeoutMs was killed by the coordinator and
// counts as dead. Deaths are covered from the first epoch to the end: the
// epochs, the checkpoints, the final evaluation and save after the last epoch,
// and afterTraining (a death while the workers start up still fails the run).
import { PushTimeoutError, PushWorkerError } from '../util/errors';
import type { ParticleSnapshot } from '../runtime/worker-api';
import { readCheckpointDir } from './checkpoint-dir';
import type { ParticleCluster } from './cluster';
import type { ArrayData } from '../runtime/training-handlers';
import type { Algorithm } from './algorithms/types';
import type { WorkerRestartReport } from './train-options';
import { ParticleState, decodeParticles, readParticleStates, restoredConfig, snapshotOf } from './particle-state';

/** Where a rollback goes: epochs completed there, and how to get every particle's state. */
interface RollbackPoint {
  epoch: number;
  trainLosses?: number[];
  states(): ParticleState[];
}

export interface RecoverySetup {
  cluster: ParticleCluster;
  /** Training data key and arrays: a restarted worker has lost them. */
  dataKey: string;
  data: ArrayData;
  algorithm: Algorithm<any>;
  /** Each particle's fresh set-up (AlgorithmDriver.setup); saved state is restored over it. */
  setups: readonly unknown[];
  numParams: number;
  slotNames: readonly string[];
  /** Restarts allowed in the whole run. */
  limit: number;
  onRestart?: (r: WorkerRestartReport) => void | Promise<void>;
}

export class WorkerRecovery {
  private restarts = 0;

  private constructor(
    private readonly setup: RecoverySetup,
    private point: RollbackPoint,
  ) {}

  /** Remembers where the run starts: the resumed checkpoint's states, or a copy of the fresh particles. */
  static async start(setup: RecoverySetup, resumed?: { epoch: number; states: ParticleState[]; trainLosses?: number[] }): Promise<WorkerRecovery> {
    if (resumed) return new WorkerRecovery(setup, { epoch: resumed.epoch, trainLosses: resumed.trainLosses, states: () => resumed.states });
    const initial = await readParticleStates(setup.cluster, setup.algorithm.name);
    return new WorkerRecovery(setup, { epoch: 0, states: () => initial });
  }

  /** A checkpoint of `epoch` epochs was written to `dir`: later rollbacks reload it from there. */
  saved(dir: string, epoch: number, trainLosses: readonly number[] | undefined): void {
    const { numParams, slotNames, algorithm } = this.setup;
    this.point = {
      epoch,
      trainLosses: trainLosses && [...trainLosses],
      states: () => {
        const reader = readCheckpointDir(dir);
        return decodeParticles(reader, reader.manifest.particles, numParams, slotNames, algorithm);
      },
    };
  }

  /**
   * After a failure: if it is a worker death and restarts remain, restarts the dead
   * workers, rolls every particle back and returns the epoch to continue from;
   * undefined when `err` is not a recoverable death (the caller rethrows it). A worker
   * that dies during the recovery is restarted too, within the same limit.
   */
  async recover(err: unknown): Promise<{ epoch: number; trainLosses?: number[] } | undefined> {
    let failure = err;
    for (;;) {
      const dead = this.setup.cluster.dist.deadDevices();
      if (!isWorkerFailure(failure) || dead.length === 0) {
        if (failure === err) return undefined;
        throw failure;
      }
      if (this.restarts + dead.length > this.setup.limit) throw failure;
      try {
        await this.rollBack(dead);
        return { epoch: this.point.epoch, trainLosses: this.point.trainLosses };
      } catch (again) {
        failure = again;
      }
    }
  }

  private async rollBack(dead: { device: string; reason: string; particles: number[] }[]): Promise<void> {
    const { cluster } = this.setup;
    const dist = cluster.dist;
    const states = this.point.states();
    const snapshotOfPid = (pid: number): ParticleSnapshot => snapshotOf(states[pid]);
    for (const d of dead) {
      this.restarts++;
      await dist.restartDevice(d.device, new Map(d.particles.map((pid) => [pid, snapshotOfPid(pid)])));
      await this.setup.onRestart?.({ device: d.device, reason: d.reason, particles: d.particles, epoch: this.point.epoch, restart: this.restarts });
    }
    const restarted = dead.map((d) => d.device);
    const onLiveDevices = dist.particleIds().filter((pid) => !restarted.includes(dist.deviceOf(pid)));
    await Promise.all(onLiveDevices.map((pid) => dist.setSnapshot(pid, snapshotOfPid(pid))));
    await cluster.setData(this.setup.dataKey, this.setup.data, restarted);
    await cluster.call('bayesConfigure', (pids) => ({ algorithm: this.setup.algorithm.name, particles: pids.map((pid) => restoredConfig(pid, states[pid], this.setup.setups[pid])) }));
  }
}

/** A death, or a timeout (the coordinator kills a worker that stops answering). */
function isWorkerFailure(err: unknown): boolean {
  return err instanceof PushWorkerError || err instanceof PushTimeoutError;
}
