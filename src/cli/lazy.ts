// Modules loaded on first use, so that `--help`, `--version` and flag errors
// answer without loading TensorFlow.js and the Bayesian layer.
import type * as Engine from './engine';

let engineModule: typeof Engine | undefined;

export function engine(): typeof Engine {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (engineModule ??= require('./engine') as typeof Engine);
}
