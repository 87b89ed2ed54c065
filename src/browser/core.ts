// The predictive core of an exported posterior: the particles' arrays in
// memory, src/nn's forward pass and src/bayes's reduction, with the same seed
// streams as the device workers' predict hooks, so a page and Node's
// Posterior.predict give the same numbers. It knows sampling kinds (format.ts),
// never algorithms: each algorithm's exportPlan says which kind it is. It runs wherever
// tfjs-core does: in the page (util/tf mapped to src/browser/tf.ts by the
// bundler) and in Node, where push-ens export uses it to measure float16.
import { tf } from '../util/tf';
import { PushInputError, describeValue } from '../util/errors';
import { deriveSeed, Rng } from '../util/rng';
import { compileModel } from '../nn/compile';
import type { Network } from '../nn/network-api';
import { normalizeInputs } from '../data/normalization';
import { PredictiveReducer, ReducedPrediction } from '../bayes/predictive';
import { SwagMoments } from '../bayes/algorithms/mswag/swag';
import { assembleStack, stackToOriginalUnits } from '../bayes/stacks';
import { BrowserManifest, readTensor } from './format';
import { BrowserInput, readBrowserInputs } from './inputs';

export interface BrowserPredictOptions {
  /** Default: ["mean", "std"] for regression, ["mean_prob"] for classification (as Node's Posterior.predict). */
  modes?: readonly string[];
  /** "swag" / "dropout" sampling (MultiSWAG, MC dropout): samples per particle (default: the training option). */
  numSamples?: number;
  /** Take x in the data's original units and report regression outputs in them (as Node's option). */
  originalUnits?: boolean;
  /** Examples per forward pass (default 512). */
  batchSize?: number;
}

/** One particle's arrays: weights (one or more stacked members, + a random prior), or SWAG moments. */
export interface ParticleArrays {
  params?: Float32Array;
  prior?: Float32Array;
  swag?: SwagMoments;
}

const DEFAULT_BATCH = 512;

/** Decodes every particle's arrays from a verified weights file. */
export function particleArrays(manifest: BrowserManifest, bytes: Uint8Array): ParticleArrays[] {
  const out: ParticleArrays[] = manifest.particleSeeds.map(() => ({}));
  const swagParts: { mean?: Float64Array; sqMean?: Float64Array; deviations?: Float32Array }[] = out.map(() => ({}));
  for (const e of manifest.weights.tensors) {
    const a = readTensor(bytes, e);
    if (e.name === 'params' || e.name === 'prior') out[e.particle][e.name] = a as Float32Array;
    else if (e.name === 'swagMean') swagParts[e.particle].mean = a as Float64Array;
    else if (e.name === 'swagSqMean') swagParts[e.particle].sqMean = a as Float64Array;
    else swagParts[e.particle].deviations = Float32Array.from(a);
  }
  if (manifest.sampling === 'swag') {
    const n = manifest.numParams;
    swagParts.forEach((s, k) => {
      const k2 = s.deviations!.length / n;
      // rank = the deviations held: prediction never collects more.
      out[k].swag = SwagMoments.fromState({ n, rank: k2, count: Math.max(k2, 1), mean: s.mean!, sqMean: s.sqMean!, numDeviations: k2, deviations: s.deviations! });
    });
  }
  return out;
}

export class PredictiveCore {
  readonly network: Network;
  private readonly uploaded = new Map<string, tf.Tensor[][]>();

  constructor(
    readonly manifest: BrowserManifest,
    private readonly particles: ParticleArrays[],
  ) {
    this.network = compileModel(manifest.model);
    if (this.network.numParams !== manifest.numParams || this.network.outputSize !== manifest.outputSize) {
      const got = `${this.network.numParams} parameters and ${this.network.outputSize} outputs`;
      this.network.dispose();
      throw new PushInputError(`the manifest's model has ${got}, but the manifest says ${manifest.numParams} and ${manifest.outputSize}`);
    }
  }

  get numParticles(): number {
    return this.particles.length;
  }

  /** Members each particle contributes: its stacked weight vectors, or numSamples draws (swag, dropout). */
  samplesPerParticle(numSamples?: number): number {
    if (this.manifest.sampling === 'members') return this.particles[0].params!.length / this.manifest.numParams;
    const S = numSamples ?? this.manifest.predictive.numSamples!;
    if (!Number.isInteger(S) || S < 1) throw new PushInputError(`numSamples ${describeValue(S)}: expected a whole number >= 1`);
    return S;
  }

  /** The posterior predictive of x reduced to `modes`: the same as Node's Posterior.predict. */
  async predict(input: BrowserInput, opts: BrowserPredictOptions = {}): Promise<Record<string, ReducedPrediction>> {
    const m = this.manifest;
    const modes = opts.modes ?? (m.task === 'classification' ? ['mean_prob'] : ['mean', 'std']);
    const reducer = new PredictiveReducer(m.task, modes, { gaussian: m.gaussian });
    const batchSize = opts.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new PushInputError(`batchSize ${describeValue(batchSize)}: expected a whole number >= 1`);
    const perParticle = this.samplesPerParticle(opts.numSamples);
    const norm = opts.originalUnits ? m.normalization : undefined;
    const read = readBrowserInputs(input, m.inputShape);
    const x = norm ? normalizeInputs(read.x, norm) : read.x;
    const N = read.shape[0];
    const row = x.length / Math.max(N, 1);
    const P = this.numParticles;
    const out = m.outputSize;
    const weights = this.memberWeights(perParticle);
    for (let start = 0; start < N; start += batchSize) {
      const B = Math.min(batchSize, N - start);
      const members = await this.forwardAll(weights, x.subarray(start * row, (start + B) * row), [B, ...m.inputShape], perParticle);
      let stack = assembleStack([{ pids: [...Array(P).keys()], out: members }], B, P, perParticle, out);
      if (m.task === 'regression' && norm) stack = stackToOriginalUnits(stack, B, P * perParticle, out, m.gaussian, norm);
      reducer.push(stack, { N: B, S: P * perParticle, out });
    }
    return reducer.result();
  }

  /** Frees the uploaded weight tensors (predict uploads them again when needed). */
  dispose(): void {
    for (const sets of this.uploaded.values()) for (const ts of sets) tf.dispose(ts);
    this.uploaded.clear();
  }

  /**
   * The weight tensors the forward passes use, particle-major: each particle's stacked members
   * (members), its one weight vector (dropout) or its SWAG samples drawn as the workers draw them
   * (new Rng(its sample seed), S draws); then, for members with a prior, each particle's prior.
   * Uploaded once and kept.
   */
  private memberWeights(S: number): tf.Tensor[][] {
    const n = this.manifest.numParams;
    const sampledSwag = this.manifest.sampling === 'swag';
    const key = sampledSwag ? `swag/${S}` : 'params';
    let sets = this.uploaded.get(key);
    if (sets) return sets;
    if (sampledSwag) {
      // One sample set is kept: drop an older one of another size.
      for (const [k, old] of this.uploaded) if (k.startsWith('swag/')) (old.forEach((ts) => tf.dispose(ts)), this.uploaded.delete(k));
      const { scale, varClamp } = this.manifest.predictive;
      sets = [];
      this.particles.forEach((p, k) => {
        const rng = new Rng(this.manifest.predictive.sampleSeeds![k]);
        for (let s = 0; s < S; s++) sets!.push(this.network.materialize(p.swag!.sample(rng, { scale, varClamp })));
      });
    } else {
      sets = this.particles.flatMap((p) => Array.from({ length: p.params!.length / n }, (_, s) => this.network.materialize(p.params!.subarray(s * n, (s + 1) * n))));
      this.particles.forEach((p) => {
        if (p.prior) sets!.push(this.network.materialize(p.prior));
      });
    }
    this.uploaded.set(key, sets);
    return sets;
  }

  /** Outputs of every member on one batch: [P x perParticle, B, out], particle-major. */
  private async forwardAll(weights: tf.Tensor[][], xb: Float32Array, shape: number[], perParticle: number): Promise<Float32Array> {
    const m = this.manifest;
    const P = this.numParticles;
    const net = this.network;
    const stacked = tf.tidy(() => {
      const x = tf.tensor(xb, shape);
      const outs: tf.Tensor[] = [];
      for (let k = 0; k < P; k++) {
        if (m.sampling === 'dropout') {
          // Pass s is one thinned network, its mask over units seeded as on the devices.
          const seed = m.predictive.sampleSeeds![k];
          for (let s = 0; s < perParticle; s++) outs.push(net.forward(weights[k], x, { training: true, dropoutSeed: deriveSeed(seed, s), sharedDropoutMask: true }));
          continue;
        }
        // members and swag: one forward pass per weight vector; members may add beta x their prior's output.
        const prior = m.sampling === 'members' && m.predictive.priorBeta !== undefined ? net.forward(weights[P * perParticle + k], x) : undefined;
        for (let s = 0; s < perParticle; s++) {
          const own = net.forward(weights[k * perParticle + s], x);
          outs.push(prior ? tf.add(own, tf.mul(prior, m.predictive.priorBeta!)) : own);
        }
      }
      return tf.stack(outs);
    });
    try {
      return (await stacked.data()) as Float32Array;
    } finally {
      stacked.dispose();
    }
  }
}
