// Last-layer Laplace on a device: MAP epochs (the shared stacked epoch), the fit
// of each particle's last layer on features computed here from the training
// data kept here, and prediction members (sampled last layers, or probit).
// Only the fitted posterior (O(P²) for P = (H + 1)·K) ever leaves the device.
import { PushInputError } from '../../../util/errors';
import { tf } from '../../../util/tf';
import { SequentialNetwork } from '../../../nn/network';
import type { Particle } from '../../../runtime/particle';
import type { ParticleStore } from '../../../runtime/particle-store';
import { LastLayerLaplace, fitLastLayerLaplace, functionalMoments, lastLayerForward, posteriorCovariance, probitProbabilities, sampleLastLayer } from '../../../uncertainty/laplace-math';
import { dataOf, registerDeviceAlgorithm, runStackedEpoch, setStateOf, stateOf } from '../../device/engine';
import type { EpochArgs, EpochResult } from '../../device/messages';
import type { LaplaceSetup } from './index';
import { LastLayer, lastLayerOf } from './last-layer';

interface ParticleLaplace {
  setup: LaplaceSetup;
  /** The fitted posterior at the particle's current weights (dropped when an epoch changes them). */
  fit?: LastLayerLaplace;
  /** Σ, for probit predictions (computed once per fit). */
  covariance?: Float64Array;
  /** Last-layer samples for this seed and count, reused across the batches of one predict call. */
  samples?: { key: string; thetas: Float32Array };
}

/** The model's last layer and the network of its features, made once per device. */
const featureNets = new WeakMap<ParticleStore, { last: LastLayer; net: SequentialNetwork | null }>();

function featuresOf(p: Particle): { last: LastLayer; net: SequentialNetwork | null } {
  let f = featureNets.get(p.store);
  if (!f) {
    const last = lastLayerOf(p.store.network.spec, p.store.network.numParams);
    const net = last.features ? new SequentialNetwork(last.features) : null;
    if (net && net.numParams !== last.offset) throw new PushInputError(`laplace: the feature network has ${net.numParams} parameters, expected ${last.offset}`);
    featureNets.set(p.store, (f = { last, net }));
  }
  return f;
}

/** φ(x) [B, H] for the particle's weights `row` (call inside tf.tidy). */
function featureTensor(p: Particle, row: Float32Array, x: tf.Tensor): tf.Tensor2D {
  const { last, net } = featuresOf(p);
  const B = x.shape[0];
  if (!net) return tf.reshape(x, [B, last.H]);
  return net.forward(net.materialize(row.subarray(0, last.offset)), x) as tf.Tensor2D;
}

function laplaceOf(p: Particle, pid: number): ParticleLaplace {
  const s = stateOf<ParticleLaplace>(p, pid);
  if (!s) throw new PushInputError(`particle ${pid} has no laplace set-up: configure it with bayesConfigure first`);
  return s;
}

function drop(s: ParticleLaplace): void {
  s.fit = undefined;
  s.covariance = undefined;
  s.samples = undefined;
}

const FEATURE_BATCH = 1024;

/** Fits the particle's last layer on data `key` (features computed here, in batches). */
function fitParticle(p: Particle, pid: number, key: string): LastLayerLaplace {
  const s = laplaceOf(p, pid);
  const { last } = featuresOf(p);
  const { H, K } = last;
  const d = dataOf(p, key);
  const N = d.xShape[0];
  const xRow = d.x.length / N;
  const row = p.store.exchange(pid, false).params;
  const features = new Float32Array(N * H);
  for (let start = 0; start < N; start += FEATURE_BATCH) {
    const B = Math.min(FEATURE_BATCH, N - start);
    const phi = tf.tidy(() => featureTensor(p, row, tf.tensor(d.x.subarray(start * xRow, (start + B) * xRow), [B, ...d.xShape.slice(1)])));
    features.set(phi.dataSync() as Float32Array, start * H);
    phi.dispose();
  }
  const theta = row.subarray(last.offset);
  let sigmaNoise = 1;
  if (s.setup.likelihood === 'regression') {
    // σ² = the maximum-likelihood noise variance of the MAP network: mean squared residual over N·K.
    const f = lastLayerForward(features, N, H, K, theta);
    let sse = 0;
    for (let i = 0; i < N * K; i++) sse += (d.y[i] - f[i]) ** 2;
    sigmaNoise = Math.sqrt(Math.max(sse / (N * K), 1e-12));
  }
  const fit = fitLastLayerLaplace(
    { likelihood: s.setup.likelihood, features, N, H, K, theta, y: d.y, sigmaNoise },
    { structure: s.setup.hessian, priorPrecision: s.setup.priorPrecision ?? 'marglik' },
  );
  drop(s);
  s.fit = fit;
  return fit;
}

/** The particle's fit; fitted now if training data is on this device, else a one-line error. */
function fitOf(p: Particle, pid: number): LastLayerLaplace {
  const s = laplaceOf(p, pid);
  if (s.fit) return s.fit;
  try {
    dataOf(p, s.setup.dataKey);
  } catch {
    throw new PushInputError(`particle ${pid} has no fitted laplace posterior: its checkpoint was saved before training ended (resume the run to finish it)`);
  }
  return fitParticle(p, pid, s.setup.dataKey);
}

registerDeviceAlgorithm('laplace', {
  configure(p, pid, setup, saved) {
    const s: ParticleLaplace = { setup: setup as LaplaceSetup };
    if (saved) {
      const fit = saved as LastLayerLaplace;
      const { H, K } = featuresOf(p).last;
      if (fit.H !== H || fit.K !== K) throw new PushInputError(`particle ${pid}: its saved laplace posterior is for a last layer of ${fit.H} x ${fit.K}, the model's is ${H} x ${K}`);
      s.fit = fit;
    }
    setStateOf(p, pid, s);
  },
  exportState: (p, pid) => stateOf<ParticleLaplace>(p, pid)?.fit,
  predict(p, pid, x, args, seed, S) {
    const fit = fitOf(p, pid);
    const s = laplaceOf(p, pid);
    const { H, K } = fit;
    const B = x.shape[0];
    const phi = featureTensor(p, p.store.exchange(pid, false).params, x);
    if (args.predictive === 'probit') {
      s.covariance ??= posteriorCovariance(fit);
      const { mean, variance } = functionalMoments(fit, s.covariance, phi.dataSync(), B);
      const probs = probitProbabilities(mean, variance, B, K);
      // One member whose softmax is the probit probabilities.
      return tf.tensor3d(Float32Array.from(probs, (v) => Math.log(Math.max(v, 1e-30))), [1, B, K]);
    }
    const key = `${seed}/${S}`;
    if (s.samples?.key !== key) s.samples = { key, thetas: sampleLastLayer(fit, S, seed as number) };
    const phi1 = tf.concat([phi, tf.ones([B, 1])], 1);
    return tf.matMul(tf.tile(tf.expandDims(phi1, 0), [S, 1, 1]), tf.tensor3d(s.samples.thetas, [S, H + 1, K]));
  },
});

/** One MAP epoch of stacked group steps; with extra.fit (the last epoch) each particle's last layer is then fitted. */
export async function laplaceEpoch(p: Particle, a: EpochArgs): Promise<EpochResult> {
  for (const pid of a.pids) drop(laplaceOf(p, pid)); // the weights are about to change
  const r = runStackedEpoch(p, a);
  if (a.extra?.fit === true && !r.stopped) {
    const t0 = performance.now();
    for (const pid of a.pids) fitParticle(p, pid, a.key);
    r.ms += performance.now() - t0;
  }
  return r;
}
