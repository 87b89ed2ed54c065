// Cyclical SG-MCMC (Zhang et al. 2020, "Cyclical Stochastic Gradient MCMC for
// Bayesian Deep Learning"): SGLD whose step size follows `cycles` cosine cycles,
//   eps_t = (stepSize / 2) (cos(pi mod(t, L) / L) + 1),  L = ceil(total steps / cycles),
// large steps exploring a new mode at the start of each cycle, small steps
// sampling it at the end: the chain keeps samples in the last (1 - explore) part
// of each cycle, evenly spread, maxSamples / cycles per cycle.
import * as path from 'node:path';
import { PushInputError } from '../../../util/errors';
import { OptionSpec, readOption } from '../schema';
import { ChainFields, ResolvedChain, chainAlgorithm } from '../sgld/chain';

export interface CyclicalFields extends ChainFields {
  /** Cosine cycles over the run. Default 4. */
  cycles?: number;
  /** Fraction of each cycle that explores before sampling starts. Default 0.5. */
  explore?: number;
}

export interface ResolvedCyclical extends ResolvedChain {
  cycles: number;
  explore: number;
}

const CYCLES: OptionSpec = { key: 'cycles', flag: '--cycles', arg: '<m>', help: 'cosine step-size cycles over the run', kind: 'int', min: 1, defaultText: '4' };
const EXPLORE: OptionSpec = { key: 'explore', flag: '--explore', arg: '<f>', help: 'fraction of each cycle before its samples are taken (the large steps)', kind: 'number', min: 0, max: 1, maxExclusive: true, defaultText: '0.5' };

export const cyclical = chainAlgorithm<ResolvedCyclical>({
  name: 'cyclical',
  title: 'cyclical SGLD',
  summary: 'SGLD with a cyclical cosine step size, sampling in the small-step part of each cycle (Zhang et al. 2020)',
  options: [CYCLES, EXPLORE],
  resumeKeys: ['cycles', 'explore'],
  fixedEpochs: true,
  deviceModule: path.join(__dirname, 'device.js'),
  resolve(raw, base) {
    const cycles = readOption(raw, CYCLES, 4);
    if (cycles > base.maxSamples) throw new PushInputError(`cycles ${cycles}: expected at most maxSamples (${base.maxSamples}), so that every cycle keeps a sample`);
    return { ...base, cycles, explore: readOption(raw, EXPLORE, 0.5) };
  },
  plan(o, t, total, perEpoch) {
    const L = Math.max(1, Math.ceil(Math.max(total, perEpoch) / o.cycles));
    const r = t % L;
    const eps = (o.stepSize / 2) * (Math.cos((Math.PI * r) / L) + 1);
    // Sampling steps of the cycle: [start, L); perCycle of them, the last step of the cycle included.
    const start = Math.min(L - 1, Math.ceil(o.explore * L));
    const span = L - start;
    const perCycle = Math.min(span, Math.max(1, Math.floor(o.maxSamples / o.cycles)));
    const every = span / perCycle;
    const into = r - start; // 0-based step within the sampling phase
    const keep = into >= 0 && Math.floor((into + 1) / every) > Math.floor(into / every);
    return { eps, keep };
  },
  phase: (o, epoch, epochs) => {
    const within = ((epoch - 1) % Math.ceil(epochs / o.cycles)) / Math.ceil(epochs / o.cycles);
    return within < o.explore ? 'explore' : 'sample';
  },
});
