// Cyclical SGLD on a device: the Langevin rule on the shared chain machinery
// (the cycles are in the step sizes the driver plans).
import { LANGEVIN, registerChainAlgorithm } from '../sgld/chain-device';

export { chainEpoch, chainSamples } from '../sgld/chain-device';

registerChainAlgorithm('cyclical', LANGEVIN);
