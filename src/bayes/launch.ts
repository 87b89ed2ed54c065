// Starting a cluster of particles: fresh from seeds, or restored from saved
// states (checkpoints, resumed runs), with the training data and per-particle
// algorithm configuration sent to every device.
import { createOptimizer } from '../nn/optimizers';
import { ClusterOptions, ParticleCluster } from './cluster';
import type { ArrayData } from '../runtime/training-handlers';
import type { ParticleConfig } from './device/messages';
import type { ResolvedCommon } from './options';
import type { PhaseClock } from '../util/phases';
import { ParticleState, snapshotOf } from './particle-state';

export interface LaunchPlan {
  cluster: ClusterOptions;
  /** The algorithm's name: its device hooks set the particles up. */
  algorithm: string;
  common: ResolvedCommon;
  seeds: readonly number[];
  /** Saved states to restore (one per seed); fresh particles when absent. */
  states?: readonly ParticleState[];
  /** Training data, kept on every device under `key`. */
  data?: { key: string; data: ArrayData };
  /** Per-particle configuration: lr, seed, the algorithm's set-up and saved state. */
  configs?: readonly ParticleConfig[];
  /** Told when the workers are up (before the data goes out) and when the data has arrived. */
  phases?: PhaseClock;
}

/** Names of the optimizer's state buffers, in checkpoint order. */
export function optimizerSlotNames(common: ResolvedCommon): readonly string[] {
  return createOptimizer(common.optimizer).slotNames;
}

export async function launchCluster(plan: LaunchPlan): Promise<ParticleCluster> {
  const cluster = await ParticleCluster.start(plan.cluster);
  plan.phases?.lap('workersReady');
  try {
    cluster.createParticles(
      plan.seeds.map((seed, k) => {
        const s = plan.states?.[k];
        return {
          seed,
          optimizer: s ? { ...plan.common.optimizer, lr: s.lr } : plan.common.optimizer,
          scheduler: plan.common.scheduler,
          snapshot: s && snapshotOf(s),
        };
      }),
    );
    if (plan.data) await cluster.setData(plan.data.key, plan.data.data);
    const configs = plan.configs;
    if (configs && configs.length > 0) {
      const byPid = new Map(configs.map((c) => [c.pid, c]));
      await cluster.call('bayesConfigure', (pids) => ({ algorithm: plan.algorithm, particles: pids.flatMap((pid) => byPid.get(pid) ?? []) }));
    }
    plan.phases?.lap('dataSent');
    return cluster;
  } catch (err) {
    await cluster.close();
    throw err;
  }
}
