// SGLD (Welling & Teh 2011): each particle is one Langevin chain,
//   theta <- theta + (eps_t / 2) (grad log p(theta) + (N/B) sum_batch grad log p(y|x,theta)) + N(0, eps_t),
// with the step size eps_t = stepSize (1 + t)^-stepDecay, a burn-in, and one
// sample kept every `thin` steps (default: one per epoch), at most maxSamples
// per chain. With `precondition`, pSGLD (Li et al. 2016): an RMSprop
// preconditioner G scales the drift and the noise (its Gamma term is dropped,
// as in the paper's experiments). The shared chain machinery is chain.ts.
import * as path from 'node:path';
import { PushInputError } from '../../../util/errors';
import { OptionSpec, readOption } from '../schema';
import { ChainFields, ResolvedChain, chainAlgorithm } from './chain';

export interface SgldFields extends ChainFields {
  /** Decay exponent gamma of the step size: eps_t = stepSize (1 + t)^-gamma. Default 0 (constant). */
  stepDecay?: number;
  /** Epochs before the first kept sample. Default: half the epochs. */
  burnIn?: number;
  /** Keep one sample every this many steps after burn-in. Default: the steps of one epoch. */
  thin?: number;
  /** pSGLD: precondition with RMSprop (alpha 0.99, lambda 1e-5). Default false. */
  precondition?: boolean;
}

export interface ResolvedSgld extends ResolvedChain {
  stepDecay: number;
  burnIn: number;
  /** Steps between kept samples; null: one epoch. */
  thin: number | null;
  precondition: boolean;
}

const STEP_DECAY: OptionSpec = { key: 'stepDecay', flag: '--step-decay', arg: '<gamma>', help: 'step size eps_t = step-size x (1 + t)^-gamma', kind: 'number', min: 0, max: 1, defaultText: '0, constant' };
const BURN_IN: OptionSpec = { key: 'burnIn', flag: '--burn-in', arg: '<epochs>', help: 'epochs before the first kept sample', kind: 'int', min: 0, defaultText: 'half of --epochs' };
const THIN: OptionSpec = { key: 'thin', flag: '--thin', arg: '<steps>', help: 'keep one sample every N steps after burn-in', kind: 'int', min: 1, defaultText: 'one epoch of steps' };
const PRECONDITION: OptionSpec = { key: 'precondition', flag: '--precondition', help: 'pSGLD: precondition drift and noise with RMSprop (Li et al. 2016)', kind: 'boolean' };

export const sgld = chainAlgorithm<ResolvedSgld>({
  name: 'sgld',
  title: 'SGLD',
  summary: 'stochastic gradient Langevin dynamics, one chain per particle (Welling & Teh 2011; pSGLD with --precondition)',
  options: [STEP_DECAY, BURN_IN, THIN, PRECONDITION],
  resumeKeys: ['stepDecay', 'burnIn', 'thin', 'precondition'],
  deviceModule: path.join(__dirname, 'device.js'),
  resolve(raw, base, epochs) {
    const burnIn = readOption(raw, BURN_IN, Math.floor(epochs / 2));
    if (burnIn >= epochs && epochs > 0) throw new PushInputError(`burnIn ${burnIn}: expected fewer than the ${epochs} epochs, so that samples are kept`);
    return { ...base, stepDecay: readOption(raw, STEP_DECAY, 0), burnIn, thin: readOption<number | null>(raw, THIN, null), precondition: readOption(raw, PRECONDITION, false) };
  },
  plan(o, t, _total, perEpoch) {
    const eps = o.stepSize * Math.pow(1 + t, -o.stepDecay);
    const after = t + 1 - o.burnIn * perEpoch; // steps done since burn-in
    return { eps, keep: after > 0 && after % (o.thin ?? perEpoch) === 0 };
  },
  ruleArgs: (o) => ({ precondition: o.precondition }),
  phase: (o, epoch) => (epoch <= o.burnIn ? 'burn-in' : 'sampling'),
});
