// What an algorithm is: one unit (one folder) holding everything that varies by
// algorithm -- its options schema, its coordinator driver (what an epoch does),
// its device-side module, its prediction plan and its checkpoint state codec.
// The shared training loop, Posterior, checkpoints, the API and the CLI read it
// from the registry (registry.ts) and never switch on its name.
import type { ModelSpec } from '../../nn/spec';
import type { LossName } from '../../nn/losses';
import type { NonFinitePolicy } from '../../runtime/particle-store';
import type { ParticleCluster } from '../cluster';
import type { NanEvent } from '../faults';
import type { ResolvedCommon } from '../options';
import type { ProgressTracker } from '../progress';
import type { ExportPlan } from '../../browser/format';
import type { OptionSpec } from './schema';

/** What a driver's epoch sees of the run. */
export interface RunContext {
  cluster: ParticleCluster;
  common: ResolvedCommon;
  dataKey: string;
  /** Seed of the batch order (epoch e's permutation derives from (batchSeed, e)). */
  batchSeed: number;
  trainSize: number;
  numParams: number;
  /** Width of the model's output. */
  outputSize: number;
  onNan: NonFinitePolicy;
  /** Where an epoch reports the particles it skipped or re-initialised (drained after each epoch). */
  nanEvents: NanEvent[];
  /** Present when the run has an onProgress: epochs report their steps as they go. */
  progress?: ProgressTracker;
}

/** A resolved algorithm's coordinator half for one run. */
export interface AlgorithmDriver {
  /** The model the particles hold (MC dropout may add dropout layers). */
  readonly model: ModelSpec;
  /** Per-particle set-up sent to its device (random prior, SWAG rank, bootstrap seed...); JSON or typed arrays. */
  setup(pid: number, seed: number): unknown;
  /** Runs 0-based epoch `epoch`; returns each particle's mean training loss (pid order). */
  runEpoch(ctx: RunContext, epoch: number): Promise<number[]>;
}

/** How prediction samples members: `perParticle` members per particle, and what the device needs to make them. */
export interface PredictionPlan {
  perParticle: number;
  /** Passed to the algorithm's device predict hook (absent: each particle's plain output). */
  args?: Record<string, unknown>;
  /** Per-particle extra argument (e.g. a sample seed), by pid. */
  perPid?: readonly unknown[];
  /** How a plot names a particle's members ("samples", "passes"). */
  memberName?: string;
}

/** What a prediction plan may depend on: the particles' seeds and how far training went. */
export interface PredictionRun {
  particleSeeds: readonly number[];
  /** Epochs trained, of `epochs`. */
  epoch: number;
  epochs: number;
  trainSize: number;
  batchSize: number;
}

/** One particle's algorithm state in a checkpoint: manifest record fields and files. */
export interface StateCodec {
  /** Fields for the particle's manifest record and files (name suffix -> bytes) to write. */
  encode(state: unknown): { fields?: Record<string, unknown>; files: Record<string, Uint8Array> };
  /**
   * The state back from a record: `file(key)` reads the file listed under record.files[key]
   * (undefined when not listed), size-checked by the codec. `where` prefixes errors.
   */
  decode(record: Record<string, unknown>, file: (key: string) => Uint8Array | undefined, n: number, where: string): unknown;
}

/** What an export plan reads of a particle: its weights and its decoded algorithm state (ParticleState's fields). */
export interface ExportParticle {
  params: Float32Array;
  state?: unknown;
}

export interface Algorithm<R extends object = Record<string, unknown>> {
  /** The one name: API train(name), CLI --algo, manifest.json's algorithm. */
  readonly name: string;
  /** How people write it (docs, help): "MultiSWAG". */
  readonly title: string;
  /** One line for --help. */
  readonly summary: string;
  /** The options, with defaults, validation and CLI flags. */
  readonly options: readonly OptionSpec[];
  /** Validated options (defaults filled in) from the user's; cross-option checks here. */
  resolve(raw: Record<string, unknown>, common: ResolvedCommon): R;
  /** Option names that must match for a run to resume from a checkpoint (prediction-time options left out). */
  readonly resumeKeys: readonly (keyof R & string)[];
  /** Fewest particles the algorithm works with. */
  readonly minParticles?: number;
  /** onNan policies it supports (default all). */
  readonly nanPolicies?: readonly NonFinitePolicy[];
  /** A resumed run may not change --epochs (the schedule depends on it). */
  readonly fixedEpochs?: boolean;
  /** Compiled path of the module device workers load: its handlers and its device hooks. */
  readonly deviceModule: string;
  driver(options: R, model: ModelSpec, common: ResolvedCommon, io: { numParams: number; outputSize: number; loss: LossName }): AlgorithmDriver;
  /** How prediction samples members; numSamples overrides the trained default where the algorithm has one. */
  predictionPlan(options: R, run: PredictionRun, numSamples?: number): PredictionPlan;
  /** Per-particle state beyond parameters and optimizer state, if any. */
  readonly codec?: StateCodec;
  /**
   * The options the CLI stores, completed from those its flags (and a resumed checkpoint) gave:
   * e.g. MultiSWAG stores its SWAG epochs explicitly. Errors name the flags.
   */
  cliOptions?(given: Record<string, unknown>, run: { epochs: number }): Record<string, unknown>;
  /** A label for the progress line of a 1-based epoch ("pretrain", "swag", "burn-in"...). */
  phase?(options: R, epoch: number, epochs: number): string | undefined;
  /**
   * The browser export (push-ens export): which arrays each particle ships and how the page makes
   * members from them -- a sampling kind the browser knows (src/browser/format.ts: fixed weight
   * vectors, SWAG moments, dropout passes), never the algorithm's name -- with the predictive
   * settings and seeds that give Node's numbers. Absent: export refuses the algorithm. A posterior
   * that cannot be exported yet (no SWAG moments collected) gets a one-line PushInputError.
   */
  exportPlan?(options: R, particles: readonly ExportParticle[], run: PredictionRun): ExportPlan;
  /** Weight samples of each particle ([particle][sample]) for Posterior.sampleParameters; absent: the posterior holds none. */
  sampleParameters?(cluster: ParticleCluster, options: R, particleSeeds: readonly number[], numParams: number, opts: { numSamples?: number; seed?: number }): Promise<Float32Array[][]>;
}
