// The device half every SG-MCMC sampler shares: each particle is one chain. A
// step takes the gradient of the mean minibatch loss, forms grad log p(theta|D),
// and hands it to the sampler's update rule with the step size the driver
// planned and Gaussian noise from the chain's own stream -- seeded by the
// particle's seed and the step's number, so the same seed gives the same
// samples on any device layout, and a resumed run the same as an uninterrupted
// one. After a step the driver marks as kept, the chain's state goes into its
// ring of at most maxSamples samples.
import { PushInputError } from '../../../util/errors';
import { Rng, deriveSeed } from '../../../util/rng';
import { tf } from '../../../util/tf';
import { Batch, ParticleGroup, parseLoss } from '../../../nn';
import type { Particle } from '../../../runtime/particle';
import type { StoreStepOptions } from '../../../runtime/particle-store';
import { registerDeviceAlgorithm, runStackedEpoch, setStateOf, stateOf } from '../../device/engine';
import type { EpochArgs, EpochResult } from '../../device/messages';
import type { ChainState } from './chain';

/** Seed stream of a chain's injected noise. */
const NOISE_STREAM = 0x6e6f6973; // "nois"

/** What a sampler's update does to one chain, in place. */
export interface ChainRule {
  /** Names of the per-parameter state the rule keeps (zeros at the start), e.g. ["momentum"]. */
  readonly aux: readonly string[];
  /**
   * One step: theta (and aux) updated in place from grad log p(theta | D) `g`, the step size,
   * standard normal noise `z` (one per parameter), `lossGrad` (the mean minibatch loss's
   * gradient, for preconditioners) and the rule's arguments.
   */
  step(theta: Float32Array, g: Float64Array, eps: number, z: Float32Array, aux: Record<string, Float32Array>, lossGrad: Float32Array, args: Record<string, unknown>): void;
}

/** SGLD (Welling & Teh 2011): theta <- theta + (eps/2) grad log p + N(0, eps). */
export const LANGEVIN: ChainRule = {
  aux: [],
  step(theta, g, eps, z) {
    const half = eps / 2;
    const sd = Math.sqrt(eps);
    for (let i = 0; i < theta.length; i++) theta[i] = theta[i] + half * g[i] + sd * z[i];
  },
};

interface Chain extends ChainState {
  maxSamples: number;
  rule: ChainRule;
}

const rules = new Map<string, ChainRule>();

/** Registers a sampler's update rule and the chain's device hooks under its algorithm name. */
export function registerChainAlgorithm(name: string, rule: ChainRule): void {
  rules.set(name, rule);
  registerDeviceAlgorithm(name, {
    configure(p, pid, setup, saved) {
      const n = p.store.network.numParams;
      const maxSamples = (setup as { maxSamples?: number } | undefined)?.maxSamples ?? 20;
      const s = saved as ChainState | undefined;
      const aux: Record<string, Float32Array> = {};
      for (const a of rule.aux) aux[a] = s?.aux[a] ? s.aux[a].slice() : new Float32Array(n);
      const samples = new Float32Array(maxSamples * n);
      if (s) samples.set(s.samples.subarray(0, Math.min(s.held, maxSamples) * n));
      const chain: Chain = { samples, held: s ? Math.min(s.held, maxSamples) : 0, kept: s?.kept ?? 0, aux, maxSamples, rule };
      setStateOf(p, pid, chain);
    },
    exportState(p, pid): ChainState | undefined {
      const c = stateOf<Chain>(p, pid);
      if (!c) return undefined;
      return { samples: c.samples.subarray(0, c.held * p.store.network.numParams), held: c.held, kept: c.kept, aux: c.aux };
    },
    predict(p, pid, x) {
      const c = chainOf(p, pid);
      const net = p.store.network;
      const n = net.numParams;
      if (c.held === 0) {
        const { group, row } = p.store.placement(pid);
        return group.predict([row], x);
      }
      return tf.stack(Array.from({ length: c.held }, (_, s) => net.forward(net.materialize(c.samples.subarray(s * n, (s + 1) * n)), x)));
    },
  });
}

function chainOf(p: Particle, pid: number): Chain {
  const c = stateOf<Chain>(p, pid);
  if (!c) throw new PushInputError(`particle ${pid} is not an SG-MCMC chain: configure it with bayesConfigure first`);
  return c;
}

/** Adds theta as the chain's newest sample (the oldest goes when the ring is full). */
function keep(c: Chain, theta: Float32Array): void {
  const n = theta.length;
  if (c.held === c.maxSamples) c.samples.copyWithin(0, n, c.held * n);
  else c.held++;
  c.samples.set(theta, (c.held - 1) * n);
  c.kept++;
}

export interface ChainEpochExtra {
  algorithm: string;
  /** Step number (over the run) of the epoch's first step. */
  firstStep: number;
  eps: number[];
  keep: boolean[];
  likelihoodScale: number;
  priorPrecision: number;
  rule: Record<string, unknown>;
}

/** One epoch of every listed chain: stacked gradients, then each chain's own update. */
export async function chainEpoch(p: Particle, a: EpochArgs): Promise<EpochResult> {
  const x = a.extra as unknown as ChainEpochExtra;
  const chains = a.pids.map((pid) => chainOf(p, pid));
  const store = p.store;
  const n = store.network.numParams;
  const g = new Float64Array(n);
  const z = new Float32Array(n);
  const step = (pids: readonly number[], batch: Batch | Batch[], loss: string, opts: StoreStepOptions, s: number): Float32Array => {
    const losses = new Float32Array(pids.length);
    // Particles of one device may sit in different optimizer groups: one gradient pass per group.
    const byGroup = new Map<ParticleGroup, number[]>();
    pids.forEach((pid, k) => {
      const grp = store.placement(pid).group;
      byGroup.set(grp, [...(byGroup.get(grp) ?? []), k]);
    });
    for (const [group, ks] of byGroup) {
      const rows = ks.map((k) => store.placement(pids[k]).row);
      const b = Array.isArray(batch) ? ks.map((k) => batch[k]) : batch;
      const l = group.computeGrads(rows, b, parseLoss(loss));
      ks.forEach((k, i) => (losses[k] = l[i]));
      ks.forEach((k, i) => {
        const pid = pids[k];
        const r = group.row(rows[i]);
        if (!Number.isFinite(l[i]) || !allFinite(r.grads)) {
          if ((opts.nonFinite ?? 'stop') === 'stop') throw Object.assign(new Error(`particle ${pid}: non-finite loss`), { name: 'NonFiniteLossError', pid, loss: l[i] });
          opts.onNonFinite?.({ pid, loss: l[i], action: 'skip' });
          return;
        }
        const t = x.firstStep + s;
        for (let j = 0; j < n; j++) g[j] = -x.likelihoodScale * r.grads[j] - x.priorPrecision * r.params[j];
        new Rng(deriveSeed(r.meta.seed, NOISE_STREAM, t)).fillNormal(z);
        const c = chains[k];
        c.rule.step(r.params, g, x.eps[s], z, c.aux, r.grads, x.rule);
        r.meta.step++;
        if (x.keep[s]) keep(c, r.params);
        store.restore(pid, {}); // host parameters changed: drop live copies the cache holds
      });
    }
    return losses;
  };
  return runStackedEpoch(p, a, { step });
}

/** Every listed chain's kept samples: [sum of held, n], chain after chain, oldest first. */
export async function chainSamples(p: Particle, a: { pids: number[] }): Promise<{ samples: Float32Array; held: number[] }> {
  const n = p.store.network.numParams;
  const chains = a.pids.map((pid) => chainOf(p, pid));
  const samples = new Float32Array(chains.reduce((s, c) => s + c.held, 0) * n);
  let at = 0;
  for (const c of chains) {
    samples.set(c.samples.subarray(0, c.held * n), at * n);
    at += c.held;
  }
  return { samples, held: chains.map((c) => c.held) };
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}
