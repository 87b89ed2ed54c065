// The coordinator half every SG-MCMC sampler shares (SGLD, cyclical SGLD,
// SGHMC): each particle is one chain; the driver computes each step's step size
// and whether the chain keeps its state after it (burn-in, thinning, cycles),
// the devices step the chains and keep a bounded ring of samples per chain, and
// prediction is the BMA over every kept sample of every chain. The samples are
// the posterior: they go into checkpoints (codec below).
import { PushInputError } from '../../../util/errors';
import { bytesOf, float32Of } from '../../checkpoint-dir';
import { OptionSpec, PRIOR_STD, TEMPERATURE, readOption } from '../schema';
import { likelihoodScale } from '../shared/likelihood';
import { stackedEpoch } from '../shared/stacked-epoch';
import type { Algorithm } from '../types';

/** Options every SG-MCMC sampler takes. */
export interface ChainFields {
  /** Step size epsilon (the largest, for schedules). */
  stepSize?: number;
  /** Posterior temperature T (1: the Bayes posterior). */
  temperature?: number;
  /** Std of the Gaussian prior on every weight. */
  priorStd?: number;
  /** Samples kept per chain, at most (the latest). Default 20. */
  maxSamples?: number;
}

export interface ResolvedChain {
  stepSize: number;
  temperature: number;
  priorStd: number;
  maxSamples: number;
}

/** One step's schedule: its step size, and whether the chain keeps its state after it. */
export interface StepPlan {
  eps: number;
  keep: boolean;
}

/** What a sampler says beyond the shared chain machinery. */
export interface ChainAlgorithmDef<R extends ResolvedChain> {
  name: string;
  title: string;
  summary: string;
  options: readonly OptionSpec[];
  /** The sampler's own options (the shared ones are read already). */
  resolve(raw: Record<string, unknown>, base: ResolvedChain, epochs: number): R;
  resumeKeys: readonly (keyof R & string)[];
  deviceModule: string;
  /** A resumed run may not change the epochs (the schedule spans the run). */
  fixedEpochs?: boolean;
  /** Step t (0-based over the run) of `total`, `perEpoch` steps per epoch. */
  plan(o: R, t: number, total: number, perEpoch: number): StepPlan;
  /** The update rule's own arguments for the device (e.g. friction). */
  ruleArgs?(o: R): Record<string, unknown>;
  phase?(o: R, epoch: number, epochs: number): string | undefined;
}

export const STEP_SIZE: OptionSpec = { key: 'stepSize', flag: '--step-size', arg: '<eps>', help: 'SG-MCMC step size epsilon (the largest, for schedules)', kind: 'number', min: 0, minExclusive: true, defaultText: '1e-4' };
export const MAX_SAMPLES: OptionSpec = { key: 'maxSamples', flag: '--max-samples', arg: '<n>', help: 'samples each chain keeps, at most (the latest); prediction averages over all of them', kind: 'int', min: 1, max: 10000, defaultText: '20' };
export const CHAIN_OPTIONS: readonly OptionSpec[] = [STEP_SIZE, TEMPERATURE, PRIOR_STD, MAX_SAMPLES];

function stepsPerEpoch(trainSize: number, batchSize: number): number {
  return Math.ceil(trainSize / batchSize);
}

/** Samples a chain has kept after `epochs` epochs: the keep steps so far, at most maxSamples. */
export function keptAfter<R extends ResolvedChain>(def: ChainAlgorithmDef<R>, o: R, epochs: number, totalEpochs: number, perEpoch: number): number {
  let kept = 0;
  const total = totalEpochs * perEpoch;
  for (let t = 0; t < epochs * perEpoch; t++) if (def.plan(o, t, total, perEpoch).keep) kept++;
  return Math.min(kept, o.maxSamples);
}

/** A chain's state on a device and in a checkpoint. */
export interface ChainState {
  /** Kept samples, [held, n], oldest first. */
  samples: Float32Array;
  held: number;
  /** Samples kept in all (held is the latest min(kept, maxSamples)). */
  kept: number;
  /** Per-parameter state of the update rule (momentum, preconditioner), by name. */
  aux: Record<string, Float32Array>;
}

/** The shared chain machinery around a sampler's schedule and update rule. */
export function chainAlgorithm<R extends ResolvedChain>(def: ChainAlgorithmDef<R>): Algorithm<R> {
  return {
    name: def.name,
    title: def.title,
    summary: def.summary,
    options: [...CHAIN_OPTIONS, ...def.options],
    resumeKeys: ['stepSize', 'temperature', 'priorStd', 'maxSamples', ...def.resumeKeys],
    // Each chain's update uses its own gradient only; a 'reinit' would restart a chain mid-run.
    nanPolicies: ['stop', 'skip'],
    fixedEpochs: def.fixedEpochs,
    deviceModule: def.deviceModule,
    resolve(raw, common) {
      const base: ResolvedChain = {
        stepSize: readOption(raw, STEP_SIZE, 1e-4),
        temperature: readOption(raw, TEMPERATURE, 1),
        priorStd: readOption(raw, PRIOR_STD, 1),
        maxSamples: readOption(raw, MAX_SAMPLES, 20),
      };
      return def.resolve(raw, base, common.epochs);
    },
    driver(o, model, common, io) {
      return {
        model,
        setup: () => ({ maxSamples: o.maxSamples }),
        runEpoch(ctx, epoch) {
          const perEpoch = stepsPerEpoch(ctx.trainSize, common.batchSize);
          const total = common.epochs * perEpoch;
          const plans = Array.from({ length: perEpoch }, (_, s) => def.plan(o, epoch * perEpoch + s, total, perEpoch));
          return stackedEpoch(ctx, epoch, 'chainEpoch', {
            algorithm: def.name,
            firstStep: epoch * perEpoch,
            eps: plans.map((p) => p.eps),
            keep: plans.map((p) => p.keep),
            // grad log p(theta | D) = -likelihoodScale * grad(mean minibatch loss) - theta / priorStd^2
            likelihoodScale: likelihoodScale(io.loss, io.outputSize, ctx.trainSize, o.temperature),
            priorPrecision: 1 / (o.priorStd * o.priorStd),
            rule: def.ruleArgs?.(o) ?? {},
          });
        },
      };
    },
    predictionPlan(o, run) {
      const perEpoch = stepsPerEpoch(run.trainSize, run.batchSize);
      const held = keptAfter(def, o, run.epoch, run.epochs, perEpoch);
      // Before the first kept sample, a chain predicts with its current parameters.
      return { perParticle: Math.max(1, held), memberName: 'samples' };
    },
    // Fixed members: every kept sample of every chain (a chain with none yet: its current weights, as on the devices).
    exportPlan: (_o, particles) => ({
      sampling: 'members',
      arrays: particles.map((p) => {
        const c = p.state as ChainState | undefined;
        return { params: c && c.held > 0 ? c.samples : p.params };
      }),
      predictive: {},
    }),
    phase: def.phase,
    async sampleParameters(cluster, _o, particleSeeds, n) {
      const parts = await cluster.eachDevice<{ samples: Float32Array; held: number[] }>('chainSamples', (pids) => ({ pids }));
      const out: Float32Array[][] = particleSeeds.map(() => []);
      cluster.deviceGroups().forEach(({ pids }, g) => {
        let at = 0;
        pids.forEach((pid, j) => {
          for (let s = 0; s < parts[g].held[j]; s++, at++) out[pid].push(parts[g].samples.slice(at * n, (at + 1) * n));
        });
      });
      return out;
    },
    // Kept samples (float32 x held x n, oldest first) and the rule's per-parameter state.
    codec: {
      encode(state) {
        const c = state as ChainState;
        const files: Record<string, Uint8Array> = { samples: bytesOf(c.samples) };
        for (const [name, a] of Object.entries(c.aux)) files[name] = bytesOf(a);
        return { fields: { chain: { held: c.held, kept: c.kept, aux: Object.keys(c.aux) } }, files };
      },
      decode(record, file, n, where) {
        const r = record.chain as { held?: unknown; kept?: unknown; aux?: unknown } | undefined;
        if (r === undefined) return undefined;
        const ok = r && Number.isInteger(r.held) && Number.isInteger(r.kept) && (r.held as number) >= 0 && (r.held as number) <= (r.kept as number) && Array.isArray(r.aux);
        if (!ok) throw new PushInputError(`${where}: its chain record is malformed: the checkpoint is corrupt`);
        const held = r.held as number;
        const data = file('samples');
        if (!data) throw new PushInputError(`${where}: its samples file is missing: the checkpoint is corrupt`);
        const aux: Record<string, Float32Array> = {};
        for (const name of r.aux as unknown[]) {
          if (typeof name !== 'string' || !/^[a-z]+$/.test(name)) throw new PushInputError(`${where}: its chain record is malformed: the checkpoint is corrupt`);
          const a = file(name);
          if (!a) throw new PushInputError(`${where}: its ${name} file is missing: the checkpoint is corrupt`);
          aux[name] = float32Of(a, `${where}: ${name}`, n);
        }
        const c: ChainState = { samples: float32Of(data, `${where}: samples`, held * n), held, kept: r.kept as number, aux };
        return c;
      },
    },
  };
}
