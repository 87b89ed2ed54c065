// A model's input shape, output width and parameter count for the
// coordinator's thread: from the spec alone for push-ens sequential specs, so
// that thread does not load TensorFlow.js before the first step; tfjs-layers
// specs are compiled (loading tfjs on first use).
import type * as CompileModule from './compile';
import { ModelIO, ModelSpec, sequentialIO } from './spec';

export function modelIO(spec: ModelSpec): ModelIO {
  if (spec.format === 'push-ens/sequential') return sequentialIO(spec);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { compileModel } = require('./compile') as typeof CompileModule;
  const net = compileModel(spec);
  const io = { inputShape: [...net.inputShape], outputSize: net.outputSize, numParams: net.numParams };
  net.dispose();
  return io;
}

/** Whether a model has dropout layers (compiled only for tfjs-layers specs). */
export function modelHasDropout(spec: ModelSpec): boolean {
  if (spec.format === 'push-ens/sequential') return spec.layers.some((l) => l.type === 'dropout' && l.rate > 0);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { compileModel } = require('./compile') as typeof CompileModule;
  const net = compileModel(spec);
  const has = net.hasDropout;
  net.dispose();
  return has;
}
