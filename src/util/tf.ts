// The one place that loads TensorFlow.js: the core, its gradients and the
// backends push-ens supports. Everything else imports `tf` from here.
import * as tf from '@tensorflow/tfjs-core';
// The union package's CommonJS bundle registers every gradient (tfjs-core's own
// register_all_gradients is ESM-only, which jest and older Node cannot require).
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { PushInputError } from './errors';

export { tf };

export type BackendName = 'wasm' | 'cpu' | 'tensorflow';
export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu', 'tensorflow'];

/** Packages that provide the `tensorflow` backend, GPU build first. */
export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

export const TFJS_NODE_INSTALL_HINT =
  'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (CUDA 11.2 and cuDNN 8.1, Linux x64) ' +
  'or `npm install @tensorflow/tfjs-node@4.22.0` for the CPU build of libtensorflow';

export function parseBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  throw new PushInputError(`unknown backend ${JSON.stringify(name)}: expected one of ${BACKENDS.join(', ')}`);
}

/** Which tfjs-node package can be resolved here, if any (without loading it). */
export function resolveTfjsNode(preferGpu = true): string | null {
  const order = preferGpu ? TFJS_NODE_PACKAGES : [...TFJS_NODE_PACKAGES].reverse();
  for (const pkg of order) {
    try {
      require.resolve(pkg);
      return pkg;
    } catch {
      /* not installed */
    }
  }
  return null;
}

let quieted = false;

/** Select and initialise a backend in this thread or process. */
export async function useBackend(name: BackendName, opts: { gpu?: boolean } = {}): Promise<void> {
  if (!quieted) {
    // PROD silences tfjs's banner recommending tfjs-node (we choose backends
    // ourselves) and skips its per-kernel debug checks. (IS_TEST would also
    // silence it, but turns on a leak check that misfires on customGrad ops.)
    tf.env().set('PROD', true);
    quieted = true;
  }
  if (name === 'tensorflow') {
    const pkg = resolveTfjsNode(opts.gpu ?? true);
    if (!pkg) throw new PushInputError(`backend "tensorflow" needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node: ${TFJS_NODE_INSTALL_HINT}`);
    require(pkg);
  }
  if (tf.getBackend() === name) return;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${JSON.stringify(name)} failed to initialise`);
  await tf.ready();
}
