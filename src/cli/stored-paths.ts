// A checkpoint's manifest is input like any other: it must not choose which
// files push-ens opens. The data spec and model text stored in it may name a
// file (csv:PATH, a model JSON); such a file is read only when the user names
// it on the command line, never because the checkpoint says so.
import { PushInputError } from '../util/errors';
import { dataSpecFiles, parseDataSpec } from '../data/specs';
import { show } from './options';

/** A file a data spec reads (csv:, idx:), or undefined for generated and packaged data (mnist, fashion-mnist). */
export function dataSpecFile(spec: string): string | undefined {
  let parsed;
  try {
    parsed = parseDataSpec(spec);
  } catch {
    return undefined; // a malformed spec opens nothing; loading it reports the problem
  }
  return dataSpecFiles(parsed)[0];
}

/**
 * Refuses a stored data spec that names a file unless the user passed --data
 * (theirs is then used instead, so the stored path is never opened).
 */
export function checkStoredDataSpec(dir: string, storedSpec: string, dataFlag: string | undefined): void {
  if (dataFlag !== undefined || dataSpecFile(storedSpec) === undefined) return;
  throw new PushInputError(
    `checkpoint ${show(dir)} was trained on data from a file: pass --data ${show(storedSpec)} to use it ` +
      '(push-ens does not open files named inside a checkpoint)',
  );
}
