// The one place that loads TensorFlow.js: the core, its gradients and the
// backends push-ens supports. Everything else imports `tf` from here.
import * as tf from '@tensorflow/tfjs-core';
// Types only: the union package's declarations add the chained ops (t.reshape, ...) to Tensor.
import type {} from '@tensorflow/tfjs';
import Module = require('node:module');
import { BackendName, TFJS_NODE_INSTALL_HINT, resolveTfjsNode } from './backends';
import { PushInputError } from './errors';

/**
 * Packages the union bundle requires only to re-export them: about 0.4 s of
 * loading per thread. Its own body registers every gradient, which is all we
 * want from it (tfjs-core's register_all_gradients is ESM-only, which jest and
 * Node 20 cannot require). tfjs-layers stays loadable on demand.
 */
const REEXPORTED_ONLY = new Set(['@tensorflow/tfjs-layers', '@tensorflow/tfjs-converter', '@tensorflow/tfjs-data', '@tensorflow/tfjs-backend-webgl']);

let gradientsRegistered = false;

/**
 * Registers tfjs's gradients and chained ops (by loading the union bundle), once,
 * on the first autodiff or chained op (see
 * registerGradientsOnFirstUse), not at import: the bundle takes 55-80 ms of
 * CPU to load, and neither the coordinator's thread nor a device training with
 * our explicit backward passes (dense, conv) ever differentiates.
 */
export function ensureGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  const loader = Module as unknown as { _load(request: string, parent: { filename?: string } | null, isMain: boolean): unknown };
  const load = loader._load;
  const bundle = require.resolve('@tensorflow/tfjs');
  loader._load = function (request, parent, isMain) {
    if (REEXPORTED_ONLY.has(request) && parent?.filename === bundle) return {};
    return load.call(this, request, parent, isMain);
  };
  try {
    require('@tensorflow/tfjs');
  } finally {
    loader._load = load;
  }
}

/**
 * Every autodiff entry point (tf.grad, grads, valueAndGrad(s), variableGrads,
 * Optimizer.minimize, tfjs-layers' fit) runs through the engine's gradients(),
 * and tfjs looks a kernel's gradient up only while that call records its tape:
 * registering the gradients at its first call is as good as at import.
 */
function registerGradientsOnFirstUse(): void {
  const engine = tf.engine() as unknown as { gradients: (...args: unknown[]) => unknown };
  engine.gradients = function (this: unknown, ...args: unknown[]): unknown {
    delete (engine as Partial<typeof engine>).gradients; // the prototype's method from now on
    ensureGradients();
    return engine.gradients.apply(this, args);
  };
}

/**
 * The chained ops (t.reshape(...), t.sum(), ...) that the union bundle adds to
 * Tensor.prototype (tfjs 4.22; test/util/tf.test.ts checks the list against the
 * bundle). push-ens's own code calls the tf.* functions, so a thread that never
 * uses a chained op never pays for the bundle; user code that does gets it on
 * first use, transparently.
 */
const CHAINED_OPS = `
abs acos acosh add all any argMax argMin as1D as2D as3D as4D as5D asScalar asType asin asinh atan
atan2 atanh batchNorm batchToSpaceND broadcastTo cast ceil clipByValue concat conv1d conv2d cos cosh
cumprod cumsum depthToSpace div divNoNan dot elu equal erf euclideanNorm exp expandDims expm1 fft
flatten floor floorDiv gather greater greaterEqual ifft irfft isFinite isInf isNaN leakyRelu less
lessEqual log log1p logSigmoid logSoftmax logSumExp logicalAnd logicalNot logicalOr logicalXor
matMul max maximum mean min minimum mirrorPad mod mul neg norm notEqual oneHot onesLike pad pool pow
prelu prod reciprocal relu relu6 reshape reshapeAs reverse rfft round rsqrt selu sigmoid sign sin
sinh slice softmax softplus spaceToBatchND split sqrt square squaredDifference squeeze stack step
stridedSlice sub sum tan tanh tile toBool toFloat toInt topk transpose unique unstack where
zerosLike
`.trim().split(/\s+/);

/** Makes each chained op load the union bundle (ensureGradients) when first read. */
function loadChainedOpsOnFirstUse(): void {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  for (const name of CHAINED_OPS) {
    if (Object.prototype.hasOwnProperty.call(proto, name)) continue;
    Object.defineProperty(proto, name, {
      configurable: true,
      get() {
        ensureGradients();
        return Object.getOwnPropertyDescriptor(proto, name)?.value;
      },
      // The bundle assigns each op: replace this accessor with the plain method.
      set(method: unknown) {
        Object.defineProperty(proto, name, { value: method, writable: true, configurable: true });
      },
    });
  }
}

registerGradientsOnFirstUse();
loadChainedOpsOnFirstUse();
// Registered at import, wasm is the backend tfjs would pick by itself (and fail to
// use before tf.ready()); every thread chooses its backend with useBackend, which
// loads the cpu backend (about 15 ms of CPU) only when it is the one chosen.
require('@tensorflow/tfjs-backend-wasm');

export { tf };

export { BACKENDS, BackendName, TFJS_NODE_INSTALL_HINT, TFJS_NODE_PACKAGES, parseBackend, resolveTfjsNode } from './backends';

let quieted = false;

/** Select and initialise a backend in this thread or process. */
export async function useBackend(name: BackendName, opts: { gpu?: boolean } = {}): Promise<void> {
  if (name === 'cpu') require('@tensorflow/tfjs-backend-cpu');
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
