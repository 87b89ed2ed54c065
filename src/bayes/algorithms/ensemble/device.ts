// The deep ensemble on a device: bootstrap resamples and random priors set up
// per particle, epochs of stacked group steps, and predictions with the prior added.
import { PushInputError } from '../../../util/errors';
import { Rng } from '../../../util/rng';
import { tf } from '../../../util/tf';
import type { Particle } from '../../../runtime/particle';
import { dataOf, registerDeviceAlgorithm, runStackedEpoch, setStateOf, stateOf } from '../../device/engine';
import type { EpochArgs, EpochResult } from '../../device/messages';
import type { EnsembleSetup } from './index';

interface ParticleExtras {
  prior?: {
    beta: number;
    params: Float32Array;
    /** Live tensors of the frozen prior network (made once, kept for the worker's life). */
    tensors: tf.Tensor[];
  };
  /** Bootstrap: the resample's seed and data key; the resample (row indices) is drawn when first needed. */
  bootstrap?: { seed: number; key: string; rows?: Int32Array };
}

function extras(p: Particle, pid: number): ParticleExtras {
  let e = stateOf<ParticleExtras>(p, pid);
  if (!e) setStateOf(p, pid, (e = {}));
  return e;
}

/** beta * prior(x) for a particle with a random prior (caller disposes), else undefined. */
function priorOffset(p: Particle, e: ParticleExtras, x: tf.Tensor): tf.Tensor | undefined {
  const prior = e.prior;
  if (!prior) return undefined;
  return tf.tidy(() => tf.mul(p.store.network.forward(prior.tensors, x), prior.beta));
}

registerDeviceAlgorithm('ensemble', {
  configure(p, pid, setup, saved) {
    const s = (setup ?? {}) as EnsembleSetup;
    const e = extras(p, pid);
    if (s.prior) {
      if (e.prior) tf.dispose(e.prior.tensors);
      const net = p.store.network;
      const params = saved instanceof Float32Array ? saved.slice() : net.initParams(s.prior.seed);
      e.prior = { beta: s.prior.beta, params, tensors: net.materialize(params) };
    }
    if (s.bootstrap) e.bootstrap = { ...s.bootstrap };
  },
  exportState: (p, pid) => stateOf<ParticleExtras>(p, pid)?.prior?.params,
  predict(p, pid, x) {
    const { group, row } = p.store.placement(pid);
    const out = group.predict([row], x);
    const offset = priorOffset(p, extras(p, pid), x);
    return offset ? tf.add(out, offset) : out;
  },
});

/** One epoch of stacked group steps (each particle on its own resample with bootstrap). */
export async function ensembleEpoch(p: Particle, a: EpochArgs): Promise<EpochResult> {
  const ex = a.pids.map((pid) => extras(p, pid));
  const bootstrap = a.extra?.bootstrap === true;
  const resamples = bootstrap ? ex.map((e) => resample(p, e)) : [];
  return runStackedEpoch(p, a, {
    ...(bootstrap ? { rowsOf: (k: number, idx: Int32Array) => Int32Array.from(idx, (i) => resamples[k][i]) } : {}),
    offsetOf: (k, x) => priorOffset(p, ex[k], x),
  });
}

/** The particle's fixed resample of the training set: n row indices drawn with replacement from its seed. */
function resample(p: Particle, e: ParticleExtras): Int32Array {
  const b = e.bootstrap;
  if (!b) throw new PushInputError('bootstrap training needs bayesConfigure with a bootstrap seed for every particle');
  if (!b.rows) {
    const n = dataOf(p, b.key).xShape[0];
    const rng = new Rng(b.seed);
    b.rows = Int32Array.from({ length: n }, () => rng.int(n));
  }
  return b.rows;
}
