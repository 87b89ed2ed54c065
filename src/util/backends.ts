// Names of the tfjs backends and where the native one comes from, without
// loading TensorFlow.js: the coordinator plans workers with these, and only
// the workers load tfjs (src/util/tf.ts re-exports them).
import { PushInputError } from './errors';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow';
export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu', 'tensorflow'];

/** Packages that provide the `tensorflow` backend, GPU build first. */
export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** The GPU build and what it needs: the CUDA and cuDNN versions tfjs-node-gpu 4.22 was built against. */
export const TFJS_NODE_GPU_INSTALL = '`npm install @tensorflow/tfjs-node-gpu@4.22.0` (needs CUDA 11.2 and cuDNN 8.1, Linux x64)';

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
