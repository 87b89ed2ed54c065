// The coordinator half of a stacked epoch: one message per device (the
// algorithm's epoch handler, built on device/engine.ts's runStackedEpoch), the
// earliest non-finite stop turned into NonFiniteTrainingError, skip/reinit
// events collected, and losses in pid order.
import { NonFiniteTrainingError } from '../../faults';
import type { EpochArgs, EpochResult } from '../../device/messages';
import { PROGRESS_INTERVAL_MS } from '../../progress';
import type { RunContext } from '../types';

/** Key under which the training set is kept on every device. */
export const TRAIN_DATA_KEY = 'bayes-train';

export async function stackedEpoch(ctx: RunContext, epoch: number, msg: string, extra?: Record<string, unknown>): Promise<number[]> {
  const replies = await ctx.cluster.timedRound<EpochResult>(msg, (pids): EpochArgs => ({
    key: ctx.dataKey,
    pids,
    epoch,
    batchSize: ctx.common.batchSize,
    loss: ctx.common.loss,
    batchSeed: ctx.batchSeed,
    stepScheduler: true,
    onNan: ctx.onNan,
    progressMs: ctx.progress ? PROGRESS_INTERVAL_MS : undefined,
    ...(extra ? { extra } : {}),
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
