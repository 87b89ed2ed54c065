// The browser bundle's stand-in for src/util/tf.ts: scripts/build-browser.mjs
// maps every import of util/tf to this file, so src/nn's forward pass runs in a
// page on tfjs-core without Node's module loader. Prediction never
// differentiates, so there are no gradients to register.
import * as tf from '@tensorflow/tfjs-core';

export { tf };

export function ensureGradients(): void {
  /* inference only */
}
