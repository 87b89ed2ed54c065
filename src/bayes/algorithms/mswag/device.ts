// MultiSWAG on a device: each particle's own SWAG moments, collected after the
// epochs the driver says, and weight samples drawn from them for prediction.
import { PushInputError } from '../../../util/errors';
import { Rng } from '../../../util/rng';
import { tf } from '../../../util/tf';
import type { Particle } from '../../../runtime/particle';
import { registerDeviceAlgorithm, runStackedEpoch, setStateOf, stateOf } from '../../device/engine';
import type { EpochArgs, EpochResult } from '../../device/messages';
import { SwagMoments, SwagState } from './swag';

interface ParticleSwag {
  moments: SwagMoments;
  /** Weight samples drawn for prediction, reused across the batches of one predict call. */
  samples?: { key: string; thetas: Float32Array[] };
}

function swagOf(p: Particle, pid: number): ParticleSwag {
  const s = stateOf<ParticleSwag>(p, pid);
  if (!s) throw new PushInputError(`particle ${pid} has no SWAG moments: configure it with bayesConfigure first`);
  return s;
}

/** The particle's SWAG weight samples for this seed (drawn once, reused across batches). */
function swagSamples(s: ParticleSwag, pid: number, seed: number, S: number, scale: number, varClamp: number): Float32Array[] {
  const swag = s.moments;
  if (swag.count === 0) throw new PushInputError(`particle ${pid} has collected no SWAG moments: train with trainMultiSWAG first`);
  const key = `${seed}/${S}/${scale}/${varClamp}/${swag.count}`;
  if (s.samples?.key !== key) {
    const rng = new Rng(seed);
    s.samples = { key, thetas: Array.from({ length: S }, () => swag.sample(rng, { scale, varClamp })) };
  }
  return s.samples.thetas;
}

registerDeviceAlgorithm('mswag', {
  configure(p, pid, setup, saved) {
    const rank = (setup as { rank?: number } | undefined)?.rank ?? 20;
    const moments = saved ? SwagMoments.fromState(saved as SwagState) : new SwagMoments(p.store.network.numParams, rank);
    setStateOf(p, pid, { moments }); // samples drawn from old moments are dropped
  },
  exportState: (p, pid) => stateOf<ParticleSwag>(p, pid)?.moments.toState(),
  predict(p, pid, x, args, seed, S) {
    const thetas = swagSamples(swagOf(p, pid), pid, seed as number, S, (args.scale as number) ?? 0.5, (args.varClamp as number) ?? 1e-30);
    const net = p.store.network;
    return tf.stack(thetas.map((theta) => net.forward(net.materialize(theta), x)));
  },
});

/** One epoch of stacked group steps; with collectSwag, each particle's weights then go into its moments. */
export async function mswagEpoch(p: Particle, a: EpochArgs): Promise<EpochResult> {
  const collect = a.extra?.collectSwag === true;
  return runStackedEpoch(p, a, {
    afterEpoch: collect ? (pids) => pids.forEach((pid) => swagOf(p, pid).moments.collect(p.store.exchange(pid, false).params)) : undefined,
  });
}

/** SWAG weight samples of the listed particles: [pids.length x numSamples, n], particle-major. */
export async function mswagSamples(p: Particle, a: { pids: number[]; numSamples: number; sampleSeeds: number[]; scale: number; varClamp: number }): Promise<Float32Array> {
  const n = p.store.network.numParams;
  const out = new Float32Array(a.pids.length * a.numSamples * n);
  a.pids.forEach((pid, k) => {
    // A fresh draw each call (not the prediction cache): callers may ask for many samples.
    const swag = swagOf(p, pid).moments;
    if (swag.count === 0) throw new PushInputError(`particle ${pid} has collected no SWAG moments`);
    const rng = new Rng(a.sampleSeeds[k]);
    for (let s = 0; s < a.numSamples; s++) out.set(swag.sample(rng, { scale: a.scale, varClamp: a.varClamp }), (k * a.numSamples + s) * n);
  });
  return out;
}
