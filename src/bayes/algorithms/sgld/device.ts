// SGLD on a device: the Langevin rule, or pSGLD's preconditioned one, on the
// shared chain machinery (chain-device.ts).
import { ChainRule, LANGEVIN, registerChainAlgorithm } from './chain-device';

export { chainEpoch, chainSamples } from './chain-device';

const ALPHA = 0.99;
const LAMBDA = 1e-5;

/** SGLD, or pSGLD (Li et al. 2016) with args.precondition: V <- a V + (1-a) gbar^2, G = 1/(lambda + sqrt V). */
const SGLD: ChainRule = {
  aux: ['precond'],
  step(theta, g, eps, z, aux, lossGrad, args) {
    if (!args.precondition) return LANGEVIN.step(theta, g, eps, z, aux, lossGrad, args);
    const v = aux.precond;
    for (let i = 0; i < theta.length; i++) {
      v[i] = ALPHA * v[i] + (1 - ALPHA) * lossGrad[i] * lossGrad[i];
      const G = 1 / (LAMBDA + Math.sqrt(v[i]));
      theta[i] = theta[i] + (eps / 2) * G * g[i] + Math.sqrt(eps * G) * z[i];
    }
  },
};

registerChainAlgorithm('sgld', SGLD);
