// SGHMC (Chen et al. 2014), with friction: each particle is one chain with a
// momentum v, in the parametrisation of the paper's section 3.3,
//   v <- (1 - alpha) v + eta grad log p(theta | D) + N(0, 2 alpha eta),   theta <- theta + v,
// where eta is the step size (a learning rate, eps^2 in the paper), alpha the
// friction (1 - momentum) and the noise of the stochastic gradient is left out
// of the injected noise (beta-hat = 0). alpha = 1 is SGLD with eps = 2 eta. Burn-in,
// thinning and kept samples are SGLD's (the shared chain machinery).
import * as path from 'node:path';
import { PushInputError } from '../../../util/errors';
import { OptionSpec, readOption } from '../schema';
import { ChainFields, ResolvedChain, chainAlgorithm } from '../sgld/chain';

export interface SghmcFields extends ChainFields {
  /** Friction alpha in (0, 1]: the fraction of the momentum lost per step. Default 0.1. */
  friction?: number;
  /** Epochs before the first kept sample. Default: half the epochs. */
  burnIn?: number;
  /** Keep one sample every this many steps after burn-in. Default: the steps of one epoch. */
  thin?: number;
}

export interface ResolvedSghmc extends ResolvedChain {
  friction: number;
  burnIn: number;
  thin: number | null;
}

const FRICTION: OptionSpec = { key: 'friction', flag: '--friction', arg: '<alpha>', help: 'SGHMC friction alpha: momentum lost per step', kind: 'number', min: 0, max: 1, minExclusive: true, defaultText: '0.1' };
const BURN_IN: OptionSpec = { key: 'burnIn', flag: '--burn-in', arg: '<epochs>', help: 'epochs before the first kept sample', kind: 'int', min: 0, defaultText: 'half of --epochs' };
const THIN: OptionSpec = { key: 'thin', flag: '--thin', arg: '<steps>', help: 'keep one sample every N steps after burn-in', kind: 'int', min: 1, defaultText: 'one epoch of steps' };

export const sghmc = chainAlgorithm<ResolvedSghmc>({
  name: 'sghmc',
  title: 'SGHMC',
  summary: 'stochastic gradient Hamiltonian Monte Carlo with friction, one chain per particle (Chen et al. 2014)',
  options: [FRICTION, BURN_IN, THIN],
  resumeKeys: ['friction', 'burnIn', 'thin'],
  deviceModule: path.join(__dirname, 'device.js'),
  resolve(raw, base, epochs) {
    const burnIn = readOption(raw, BURN_IN, Math.floor(epochs / 2));
    if (burnIn >= epochs && epochs > 0) throw new PushInputError(`burnIn ${burnIn}: expected fewer than the ${epochs} epochs, so that samples are kept`);
    return { ...base, friction: readOption(raw, FRICTION, 0.1), burnIn, thin: readOption<number | null>(raw, THIN, null) };
  },
  plan(o, t, _total, perEpoch) {
    const after = t + 1 - o.burnIn * perEpoch;
    return { eps: o.stepSize, keep: after > 0 && after % (o.thin ?? perEpoch) === 0 };
  },
  ruleArgs: (o) => ({ friction: o.friction }),
  phase: (o, epoch) => (epoch <= o.burnIn ? 'burn-in' : 'sampling'),
});
