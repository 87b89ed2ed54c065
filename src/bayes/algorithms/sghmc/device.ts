// SGHMC on a device: the momentum update with friction on the shared chain
// machinery; the momentum is the chain's state (kept in checkpoints).
import { ChainRule, registerChainAlgorithm } from '../sgld/chain-device';

export { chainEpoch, chainSamples } from '../sgld/chain-device';

const SGHMC: ChainRule = {
  aux: ['momentum'],
  step(theta, g, eta, z, aux, _lossGrad, args) {
    const alpha = args.friction as number;
    const v = aux.momentum;
    const sd = Math.sqrt(2 * alpha * eta);
    for (let i = 0; i < theta.length; i++) {
      v[i] = (1 - alpha) * v[i] + eta * g[i] + sd * z[i];
      theta[i] = theta[i] + v[i];
    }
  },
};

registerChainAlgorithm('sghmc', SGHMC);
