// The one registry of algorithms: list.ts names them, one export line each. The
// API's train(name), the CLI's --algo, its flags and help, Posterior,
// checkpoints and plots all find an algorithm here by name.
import { PushInputError, describeValue } from '../../util/errors';
import type { Algorithm } from './types';
import * as listed from './list';

export const ALGORITHMS: readonly Algorithm<any>[] = Object.values(listed as Record<string, Algorithm<any>>);

/** Every algorithm's name, in registry order. */
export const ALGORITHM_NAMES: readonly string[] = ALGORITHMS.map((a) => a.name);

/** The algorithm called `name`, or a one-line error listing the known ones. */
export function algorithmNamed(name: unknown, what = 'algorithm'): Algorithm<any> {
  const a = ALGORITHMS.find((x) => x.name === name);
  if (!a) throw new PushInputError(`${what} ${describeValue(name)}: expected one of ${ALGORITHM_NAMES.join(', ')}`);
  return a;
}
