// SVGD (Liu & Wang 2016) on the runtime. Each step: every device computes its
// particles' loss gradients on the shared batch (no update) and sends back
// parameters and gradients, one message per device; the coordinator (the
// leader) forms grad log p, the Stein directions phi with the RBF kernel, and
// sends each device its rows, which it applies as an ascent step with each
// particle's optimizer, in the same message that asks for the next gradients.
// The target: log p = -(N/T) mean over examples of the loss summed over the
// example's outputs - |theta|^2 / (2 priorStd^2) (shared/likelihood.ts).
import * as path from 'node:path';
import { NonFiniteTrainingError } from '../../faults';
import { OptionSpec, PRIOR_STD, TEMPERATURE, readOption } from '../schema';
import { likelihoodScale } from '../shared/likelihood';
import type { Algorithm, RunContext } from '../types';
import type { SvgdRoundArgs, SvgdRoundResult } from './device';
import { svgdDirection, svgdLogPosteriorGrad } from './svgd';

export interface SvgdFields {
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

const BANDWIDTH: OptionSpec = { key: 'bandwidth', flag: '--bandwidth', arg: '<h>', help: 'RBF kernel bandwidth, "median" or a number', kind: 'median-or-number', min: 0, minExclusive: true, defaultText: 'median' };
const REPULSIVE: OptionSpec = { key: 'repulsive', flag: '--repulsive', help: 'keep the repulsive kernel-gradient term (false: particles collapse onto modes; for tests)', kind: 'boolean', apiOnly: true };

async function svgdEpoch(ctx: RunContext, epoch: number, o: ResolvedSvgd): Promise<number[]> {
  const { cluster, common, numParams: n, trainSize } = ctx;
  const P = cluster.numParticles;
  const groups = cluster.deviceGroups();
  const index = new Map(groups.map((g, i) => [g.device, i]));
  const steps = Math.ceil(trainSize / common.batchSize);
  const sums = new Float64Array(P);
  // Every output of every example counts once (losses average over outputs): N k / T.
  const N = likelihoodScale(common.loss, ctx.outputSize, trainSize, 1);
  let lossSum = 0;
  let phiOf: Float32Array[] | undefined;
  for (let b = 0; b <= steps; b++) {
    const last = b === steps;
    const replies = await cluster.timedRound<SvgdRoundResult>('svgdRound', (pids, device): SvgdRoundArgs => ({
      pids,
      phi: phiOf?.[index.get(device)!],
      stepScheduler: last,
      batch: last ? undefined : { key: ctx.dataKey, epoch, index: b, batchSize: common.batchSize, batchSeed: ctx.batchSeed, loss: common.loss },
    }));
    if (last) break;
    const t0 = performance.now();
    const thetas = new Float32Array(P * n);
    const gradLogP = new Float32Array(P * n);
    groups.forEach(({ pids }, g) => {
      const r = replies[g];
      pids.forEach((pid, j) => {
        // One particle's NaN would spread to every particle through the kernel: stop before it does.
        if (!Number.isFinite(r.losses![j]) || !allFinite(r.grads!.subarray(j * n, (j + 1) * n))) {
          throw new NonFiniteTrainingError(pid, epoch + 1, b + 1, steps, r.losses![j]);
        }
        const theta = r.params!.subarray(j * n, (j + 1) * n);
        thetas.set(theta, pid * n);
        gradLogP.set(svgdLogPosteriorGrad(r.grads!.subarray(j * n, (j + 1) * n), theta, { N, temperature: o.temperature, priorStd: o.priorStd }), pid * n);
        sums[pid] += r.losses![j];
      });
    });
    let roundLoss = 0;
    for (const r of replies) for (const l of r.losses!) roundLoss += l;
    lossSum += roundLoss;
    ctx.progress?.fromLeader({ epoch, stepsDone: b + 1, stepsTotal: steps, particles: P, lossSum, lossCount: (b + 1) * P });
    const { phi } = svgdDirection(thetas, gradLogP, P, n, { bandwidth: o.bandwidth, repulsive: o.repulsive });
    phiOf = groups.map(({ pids }) => {
      const rows = new Float32Array(pids.length * n);
      pids.forEach((pid, j) => rows.set(phi.subarray(pid * n, (pid + 1) * n), j * n));
      return rows;
    });
    cluster.timing.addLeader(performance.now() - t0);
  }
  return Array.from(sums, (s) => s / steps);
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

export const svgd: Algorithm<ResolvedSvgd> = {
  name: 'svgd',
  title: 'SVGD',
  summary: 'Stein variational gradient descent: particles pushed apart by an RBF kernel (Liu & Wang 2016)',
  options: [BANDWIDTH, TEMPERATURE, PRIOR_STD, REPULSIVE],
  resumeKeys: ['temperature', 'priorStd', 'bandwidth', 'repulsive'],
  // The kernel acts between particles.
  minParticles: 2,
  // One particle's non-finite gradient would enter every particle's Stein direction.
  nanPolicies: ['stop'],
  deviceModule: path.join(__dirname, 'device.js'),
  resolve(raw) {
    return {
      temperature: readOption(raw, TEMPERATURE, 1),
      priorStd: readOption(raw, PRIOR_STD, 1),
      bandwidth: readOption<'median' | number>(raw, BANDWIDTH, 'median'),
      repulsive: readOption(raw, REPULSIVE, true),
    };
  },
  driver: (o, model) => ({ model, setup: () => undefined, runEpoch: (ctx, epoch) => svgdEpoch(ctx, epoch, o) }),
  predictionPlan: () => ({ perParticle: 1 }),
  exportPlan: (_o, particles) => ({ sampling: 'members', arrays: particles.map((p) => ({ params: p.params })), predictive: {} }),
};
