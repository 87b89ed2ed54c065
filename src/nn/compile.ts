// compileModel: a spec's network, sequential or tfjs-layers. Kept apart from
// both implementations so that neither imports the other.
import { LayersModelSpec, ModelSpec, validateSpec } from './spec';
import { SequentialNetwork } from './network';
import { compileLayersModel } from './layers-model';
import type { Network } from './network-api';

/** Builds the network of a spec (validating it first). */
export function compileModel(spec: ModelSpec): Network {
  const valid = validateSpec(spec);
  if (valid.format === 'tfjs-layers') {
    // tfjs-layers itself is loaded lazily by layers-model: most runs never need it.
    return compileLayersModel(valid as LayersModelSpec);
  }
  return new SequentialNetwork(valid);
}
