// Shared setup for runtime tests: a small model and the handler fixture path.
import * as path from 'node:path';

export const HANDLERS = path.resolve(__dirname, '..', 'fixtures', 'handlers.js');

/** 3 inputs -> 8 relu -> 1: small enough for quick tests, real enough to train. */
export const SMALL_MODEL = {
  format: 'push-ens/sequential',
  inputShape: [3],
  layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 1 }],
};
export const SMALL_MODEL_PARAMS = 3 * 8 + 8 + 8 * 1 + 1;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
