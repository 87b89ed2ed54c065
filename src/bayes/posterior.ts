// A trained posterior: live particles on device workers plus what is needed to
// use them. Predictions stream batch by batch: every device computes its
// particles' stacked outputs, the coordinator interleaves them into
// [B, members, out] and reduces them with PredictiveReducer (the BMA), so a
// test set of any size passes through in bounded memory.
import type { NatsOptions } from '../runtime/nats/options';
import { PushInputError, describeValue } from '../util/errors';
import type { Dataset, Normalization, Task } from '../data/dataset';
import { normalizeInputs } from '../data/normalization';
import { validateSpec } from '../nn/spec';
import { modelIO } from '../nn/model-io';
import type { ModelSpec } from '../nn/spec';
import { CheckpointReader, readCheckpointDir, writeCheckpointDir } from './checkpoint-dir';
import type { ParticleCluster, TimingReport } from './cluster';
import { ArrayInput, readInputs, readTargets } from './data';
import { launchCluster, optimizerSlotNames } from './launch';
import type { ClassificationMetrics, RegressionMetrics } from './metrics';
import type { AlgorithmName, ResolvedCommon } from './options';
import { ParticleState, decodeParticles, encodeParticles, readParticleStates, restoredConfig } from './particle-state';
import { PredictiveReducer, ReducedPrediction } from './predictive';
import { assembleStack, memberSlice, originalUnitsFloor, stackToOriginalUnits, withNoiseVariance } from './stacks';
import { algorithmNamed } from './algorithms/registry';
import type { Algorithm, PredictionPlan, PredictionRun } from './algorithms/types';
import type { SwagState } from './algorithms/mswag/swag';
import * as UQ from './posterior-uncertainty';

/** An algorithm's resolved options (defaults filled in), as stored in checkpoints. */
export type AlgorithmOptions = Record<string, unknown>;
export type Metrics = RegressionMetrics | ClassificationMetrics;

/** BMA metrics and each particle's own (for MultiSWAG and MC dropout: the particle's mixture over its samples). */
export interface EvaluationResult {
  bma: Metrics;
  members: Metrics[];
}

/** Where the training data came from: checked when a run resumes. */
export interface DataRecord {
  name?: string;
  trainSize: number;
  /** sha256 of the training inputs and targets. */
  hash: string;
  normalization?: Normalization;
}

/** Everything about a posterior except its particles' arrays; stored in manifest.json. */
export interface PosteriorInfo {
  algorithm: AlgorithmName;
  common: ResolvedCommon;
  options: AlgorithmOptions;
  /** The model as trained (MC dropout may have added dropout layers). */
  model: ModelSpec;
  numParams: number;
  inputShape: number[];
  outputSize: number;
  task: Task;
  numClasses?: number;
  /** The model outputs [means | raw variances] (gaussian-nll). */
  gaussian: boolean;
  particleSeeds: number[];
  /** Epochs trained. */
  epoch: number;
  data?: DataRecord;
  /** mse regression: the noise variance per target column used for NLL (model units). */
  noiseVariance?: number[];
  /** Mean training loss per particle in the last epoch. */
  trainLosses?: number[];
  /** Metrics on the held-out split, if one was given: in the data's original units (standardized data is mapped back). */
  metrics?: EvaluationResult;
  meta?: Record<string, unknown>;
  /** Temperature / variance scale and conformal scores fitted on held-out data (posterior.calibrate, push-ens calibrate). */
  calibration?: UQ.PosteriorCalibration;
  /** Devices the particles live on. */
  devices: string[];
  timing?: TimingReport;
}

export interface PredictOptions {
  /** Default: ["mean", "std"] for regression, ["mean_prob"] for classification. */
  modes?: readonly string[];
  /** Checked against the posterior's task when given. */
  task?: Task;
  /** Examples per streamed batch (default 512). */
  batchSize?: number;
  /** MultiSWAG / MC dropout: samples per particle (default: the training option). */
  numSamples?: number;
  /**
   * The posterior was trained on standardized data: take x (and y) in the data's original
   * units and report predictions and metrics in them. No effect without a normalization.
   */
  originalUnits?: boolean;
}

export interface EvaluateOptions extends Omit<PredictOptions, 'modes'> {
  /** mse regression: noise variance (per target column or one for all) for the NLL. Default: estimated after training. */
  noiseVariance?: number | readonly number[];
  /** ECE bins (default 15). */
  bins?: number;
}

export interface LoadOptions {
  /** Default "cpu:0": any device list, whatever the posterior was trained on. */
  devices?: string | readonly string[];
  backend?: string;
  isolation?: string;
  /** NATS servers and credentials for devices of worker hosts ("hostA/cpu:0"). */
  nats?: NatsOptions;
  cacheSize?: number;
  /** Milliseconds a device may take to answer one message (a prediction batch) before PushTimeoutError. Default: no limit. */
  timeoutMs?: number;
}

type Inputs = ArrayInput | Dataset | { x: ArrayInput; xShape?: number[] };

const DEFAULT_BATCH = 512;

export class Posterior implements AsyncDisposable {
  private cluster: ParticleCluster | null;

  /** @internal Use the train functions or Posterior.load. */
  constructor(
    cluster: ParticleCluster,
    readonly info: PosteriorInfo,
    private readonly algo: Algorithm<any> = algorithmNamed(info.algorithm),
  ) {
    this.cluster = cluster;
  }

  get algorithm(): AlgorithmName {
    return this.info.algorithm;
  }

  get task(): Task {
    return this.info.task;
  }

  get numParticles(): number {
    return this.info.particleSeeds.length;
  }

  get normalization(): Normalization | undefined {
    return this.info.data?.normalization;
  }

  /** @internal The live cluster (training drives it). */
  get liveCluster(): ParticleCluster {
    if (!this.cluster) throw new PushInputError('this posterior is closed');
    return this.cluster;
  }

  /** One flat Float32Array per particle (src/nn's order: layer by layer, weight [in, out] then bias). */
  async particleParameters(): Promise<Float32Array[]> {
    const dist = this.liveCluster.dist;
    return Promise.all(dist.particleIds().map((pid) => dist.parameters(pid)));
  }

  /**
   * Weight samples of each particle ([particle][sample]): drawn from each particle's SWAG
   * Gaussian (MultiSWAG, `numSamples` of them), or the samples each SG-MCMC chain kept.
   */
  async sampleParameters(opts: { numSamples?: number; seed?: number } = {}): Promise<Float32Array[][]> {
    const sample = this.algo.sampleParameters;
    if (!sample) throw new PushInputError(`sampleParameters needs a posterior that holds weight samples (MultiSWAG, SG-MCMC), this one is ${this.info.algorithm}`);
    return sample(this.liveCluster, this.info.options, this.info.particleSeeds, this.info.numParams, opts);
  }

  /** MultiSWAG: each particle's SWAG moments (running mean, second moment, deviations), pid order. */
  async swagMoments(): Promise<SwagState[]> {
    const states = await readParticleStates(this.liveCluster, this.info.algorithm);
    const moments = states.map((s) => s.state as Partial<SwagState> | undefined);
    if (!moments.every((m) => m && m.mean instanceof Float64Array)) throw new PushInputError(`swagMoments needs a MultiSWAG posterior, this one is ${this.info.algorithm}`);
    return moments as SwagState[];
  }

  /** Tensors alive in each device worker (device order): flat across epochs and predictions unless something leaks. */
  async numTensors(): Promise<number[]> {
    return this.liveCluster.eachDevice<number>('pushNumTensors', () => undefined);
  }

  /** The posterior predictive of x, reduced to the requested modes (see PredictiveReducer). */
  async predict(x: Inputs, opts: PredictOptions = {}): Promise<Record<string, ReducedPrediction>> {
    this.checkTask(opts.task);
    const modes = opts.modes ?? (this.task === 'classification' ? ['mean_prob'] : ['mean', 'std']);
    const outW = this.info.outputSize;
    const units = this.unitsOf(opts);
    const varianceFloor = this.info.gaussian && this.task === 'regression' ? originalUnitsFloor(units, outW / 2) : undefined;
    const reducer = new PredictiveReducer(this.task, modes, { gaussian: this.info.gaussian, varianceFloor });
    await this.forEachStack(this.inputs(x, units), opts, (stack, B, S) => {
      reducer.push(this.inOriginalUnits(stack, B, S, outW, this.info.gaussian, units), { N: B, S, out: outW });
    });
    return reducer.result();
  }

  /** Metrics of the BMA and of each particle on (x, y); x may be a Dataset carrying y. */
  async evaluate(x: Inputs, y?: ArrayInput, opts: EvaluateOptions = {}): Promise<EvaluationResult> {
    this.checkTask(opts.task);
    if (this.info.common.loss === 'bce') throw new PushInputError('evaluate does not support bce models: for binary classification use cross-entropy with 2 outputs');
    const units = this.unitsOf(opts);
    const inputs = this.inputs(x, units);
    const m = inputs.shape[0];
    const yIn = y ?? (x as Dataset).y;
    if (yIn === undefined) throw new PushInputError('evaluate needs targets: pass y, or a Dataset with y');
    const d = this.targetWidth();
    const targets = readTargets(yIn, m, this.task, this.task === 'classification' ? this.info.outputSize : d);
    const regression = this.task === 'regression';
    const noise = regression && !this.info.gaussian ? this.noiseVariance(opts.noiseVariance, d) : undefined;
    // Member variances: an mse model's noise variance exactly (no floor), or a gaussian model's
    // softplus(raw) + 1e-6, scaled to original units with its floor.
    const varianceFloor = noise ? new Array<number>(d).fill(0) : regression ? originalUnitsFloor(units, d) : undefined;
    const reducerOpts = { gaussian: regression, bins: opts.bins, varianceFloor };
    const bma = new PredictiveReducer(this.task, [], reducerOpts);
    const perParticle = this.info.particleSeeds.map(() => new PredictiveReducer(this.task, [], reducerOpts));
    await this.forEachStack(inputs, opts, (stack, B, S, start) => {
      let st = stack;
      let outW = this.info.outputSize;
      if (noise) ((st = withNoiseVariance(st, B, S, d, noise)), (outW = 2 * d));
      if (regression) st = this.inOriginalUnits(st, B, S, outW, true, units);
      const yb = targets.subarray(start * (regression ? d : 1), (start + B) * (regression ? d : 1));
      bma.push(st, { N: B, S, out: outW }, yb);
      const per = S / perParticle.length;
      perParticle.forEach((r, k) => r.push(memberSlice(st, B, S, outW, k * per, per), { N: B, S: per, out: outW }, yb));
    });
    return { bma: bma.metrics(), members: perParticle.map((r) => r.metrics()) };
  }

  /** OOD detection of xOut against xIn by each uncertainty score; with opts.yIn, selective prediction too (posterior-uncertainty.ts). */
  evaluateOOD(xIn: Inputs, xOut: Inputs, opts?: UQ.OodOptions): Promise<UQ.OodEvaluation> {
    return UQ.evaluateOOD(this, xIn, xOut, opts);
  }

  /** Fits the temperature / variance scale and conformal scores on held-out (x, y) and keeps them (save() stores them). */
  async calibrate(x: Inputs, y?: ArrayInput, opts?: UQ.CalibrationOptions): Promise<UQ.PosteriorCalibration> {
    return (this.info.calibration = await UQ.fitPosteriorCalibration(this, x, y, opts));
  }

  /** Conformal sets (classification, method 'aps' or 'lac') or intervals at level 1 − alpha, from the calibration. */
  async predictConformal(x: Inputs, opts: UQ.SummaryOptions & { alpha: number; method?: 'lac' | 'aps' }): Promise<UQ.ConformalResult> {
    UQ.checkAlpha(opts.alpha);
    return UQ.conformalFromSummary(await UQ.predictiveSummary(this, x, opts), this.info.calibration, opts.alpha, opts.method);
  }

  /** Uncalibrated and calibrated ECE/NLL/Brier or NLL/PICP/width on (x, y); with alpha, the conformal coverage too. */
  async evaluateCalibration(x: Inputs, y: ArrayInput, opts: UQ.SummaryOptions & { alpha?: number; method?: 'lac' | 'aps' } = {}): Promise<UQ.CalibrationReport & { conformal?: UQ.ConformalCoverage }> {
    if (opts.alpha !== undefined) UQ.checkAlpha(opts.alpha);
    const s = await UQ.predictiveSummary(this, x, opts);
    const yt = UQ.summaryTargets(this, s, y);
    const report = UQ.calibrationReportFromSummary(s, yt, this.info.calibration);
    return opts.alpha === undefined ? report : { ...report, conformal: UQ.conformalCoverageFromSummary(s, yt, this.info.calibration, opts.alpha, opts.method) };
  }

  /**
   * Noise variance of each target column for mse models: the mean over members (particles x
   * samples) and examples of (f(x) - y)^2, the maximum-likelihood noise variance averaged over
   * the posterior. Training sets it from the training data; evaluate uses it for the NLL.
   */
  async estimateNoiseVariance(x: Inputs, y: ArrayInput, opts: Pick<PredictOptions, 'batchSize' | 'numSamples'> = {}): Promise<number[]> {
    if (this.info.common.loss !== 'mse') throw new PushInputError(`estimateNoiseVariance is for mse models, this one is trained with ${this.info.common.loss}`);
    const inputs = this.inputs(x, undefined);
    const d = this.info.outputSize;
    const targets = readTargets(y, inputs.shape[0], 'regression', d);
    const sums = new Float64Array(d);
    let count = 0;
    await this.forEachStack(inputs, opts, (stack, B, S, start) => {
      for (let b = 0; b < B; b++) {
        for (let s = 0; s < S; s++) {
          for (let j = 0; j < d; j++) {
            const e = stack[(b * S + s) * d + j] - targets[(start + b) * d + j];
            sums[j] += e * e;
          }
        }
      }
      count += B * S;
    });
    // A floor keeps the NLL finite for a posterior that interpolates its training set.
    return Array.from(sums, (v) => Math.max(v / count, 1e-12));
  }

  /**
   * Writes a new generation of checkpoint directory `dir`, committed atomically; other files in
   * `dir` are left alone. Takes dir's lock for the save unless this process holds it, and fails
   * (PushInputError) when another live process does. A failed write is a CheckpointSaveError
   * and leaves the previous checkpoint intact (see checkpoint-dir.ts).
   */
  async save(dir: string): Promise<void> {
    const cluster = this.liveCluster;
    const states = await readParticleStates(cluster, this.info.algorithm);
    const slotNames = optimizerSlotNames(this.info.common);
    const { records, files } = encodeParticles(states, slotNames, this.algo);
    const { devices: _live, timing: _timing, ...rest } = this.info;
    writeCheckpointDir(dir, { ...rest, devices: cluster.devices, optimizerSlots: slotNames, particles: records }, files);
  }

  /** Loads a checkpoint onto any device list. */
  static async load(dir: string, opts: LoadOptions = {}): Promise<Posterior> {
    return Posterior.open(openCheckpoint(dir), opts);
  }

  /** @internal Starts the particles of a checkpoint already opened and checked (read once per command). */
  static async open(ckpt: OpenedCheckpoint, opts: LoadOptions = {}): Promise<Posterior> {
    const { info, states, algorithm } = ckpt;
    const driver = algorithm.driver(info.options, info.model, info.common, { numParams: info.numParams, outputSize: info.outputSize, loss: info.common.loss });
    const cluster = await launchCluster({
      algorithm: algorithm.name,
      cluster: { model: info.model, deviceModule: algorithm.deviceModule, devices: opts.devices, backend: opts.backend, isolation: opts.isolation, nats: opts.nats, cacheSize: opts.cacheSize, seed: info.common.seed, timeoutMs: opts.timeoutMs },
      common: info.common,
      seeds: states.map((s) => s.seed),
      states,
      configs: states.map((s, pid) => restoredConfig(pid, s, driver.setup(pid, info.particleSeeds[pid]))),
    });
    return new Posterior(cluster, { ...info, devices: cluster.devices }, algorithm);
  }

  /** Ends the device workers. Safe to call twice. */
  async close(): Promise<void> {
    const c = this.cluster;
    this.cluster = null;
    if (c) await c.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- internals

  private checkTask(task: Task | undefined): void {
    if (task !== undefined && task !== this.task) throw new PushInputError(`task ${describeValue(task)}: this posterior was trained for ${this.task}`);
  }

  private targetWidth(): number {
    return this.task === 'classification' ? 1 : this.info.gaussian ? this.info.outputSize / 2 : this.info.outputSize;
  }

  private unitsOf(opts: PredictOptions): Normalization | undefined {
    return opts.originalUnits ? this.normalization : undefined;
  }

  private inputs(x: Inputs, norm: Normalization | undefined): { x: Float32Array; shape: number[] } {
    const read = readInputs(x, this.info.inputShape);
    return norm ? { x: normalizeInputs(read.x, norm), shape: read.shape } : read;
  }

  private inOriginalUnits(stack: Float32Array, B: number, S: number, out: number, gaussian: boolean, norm: Normalization | undefined): Float32Array {
    return this.task === 'regression' && norm ? stackToOriginalUnits(stack, B, S, out, gaussian, norm) : stack;
  }

  private noiseVariance(given: number | readonly number[] | undefined, d: number): number[] {
    let v: readonly number[] | undefined = typeof given === 'number' ? new Array<number>(d).fill(given) : given;
    if (v === undefined) {
      v = this.info.noiseVariance;
      // A checkpoint saved mid-run has no estimate yet: the last epoch's mean mse is one.
      if (!v && this.info.trainLosses?.length) v = new Array<number>(d).fill(this.info.trainLosses.reduce((a, b) => a + b, 0) / this.info.trainLosses.length);
    }
    if (!v || v.length !== d || !v.every((e) => e > 0 && Number.isFinite(e))) {
      throw new PushInputError(`noiseVariance ${describeValue(v)}: expected ${d} positive number(s), the noise variance of each target column`);
    }
    return [...v];
  }

  /** What each particle contributes per example (the algorithm's prediction plan). */
  private plan(numSamples: number | undefined): PredictionPlan {
    if (numSamples !== undefined && (!Number.isInteger(numSamples) || numSamples < 1)) throw new PushInputError(`numSamples ${describeValue(numSamples)}: expected a whole number >= 1`);
    return this.algo.predictionPlan(this.info.options, predictionRun(this.info), numSamples);
  }

  /**
   * Streams x through the particles in batches; calls fn with each assembled stack
   * [B, S, out] (S = particles x samples) and the batch's first row. The next batch is
   * requested before the current one is reduced, so devices and coordinator overlap.
   */
  private async forEachStack(
    inputs: { x: Float32Array; shape: number[] },
    opts: { batchSize?: number; numSamples?: number },
    fn: (stack: Float32Array, B: number, S: number, start: number) => void,
  ): Promise<void> {
    const cluster = this.liveCluster;
    const batchSize = opts.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new PushInputError(`batchSize ${describeValue(batchSize)}: expected a whole number >= 1`);
    const { perParticle, args, perPid } = this.plan(opts.numSamples);
    const algorithm = this.info.algorithm;
    const m = inputs.shape[0];
    const row = inputs.x.length / Math.max(m, 1);
    const P = this.numParticles;
    const groups = cluster.deviceGroups();
    const request = (start: number) => {
      const B = Math.min(batchSize, m - start);
      const x = inputs.x.subarray(start * row, (start + B) * row);
      const xShape = [B, ...inputs.shape.slice(1)];
      return cluster
        .call('bayesPredict', (pids) => ({ algorithm, pids, x, xShape, perParticle, ...(args ? { args } : {}), ...(perPid ? { perPid: pids.map((pid) => perPid[pid]) } : {}) }))
        .then((replies) => ({ B, parts: replies.map((r, g) => ({ pids: groups[g].pids, out: r.out })) }));
    };
    let next = m > 0 ? request(0) : null;
    try {
      for (let start = 0; start < m; ) {
        const { B, parts } = await next!;
        next = start + B < m ? request(start + B) : null;
        fn(assembleStack(parts, B, P, perParticle, this.info.outputSize), B, P * perParticle, start);
        start += B;
      }
    } catch (err) {
      next?.catch(() => undefined); // the request already in flight is abandoned
      throw err;
    }
  }
}

const TASKS: readonly Task[] = ['regression', 'classification'];

/** The PosteriorInfo of a manifest, with its fields checked (one-line errors for foreign or corrupt ones). */
export function infoFromManifest(m: Record<string, unknown>, dir: string): PosteriorInfo {
  const bad = (field: string) => new PushInputError(`checkpoint ${dir}: manifest.json field ${field} is ${describeValue(m[field])}: the checkpoint is corrupt`);
  try {
    algorithmNamed(m.algorithm);
  } catch {
    throw bad('algorithm');
  }
  if (!TASKS.includes(m.task as Task)) throw bad('task');
  for (const f of ['numParams', 'outputSize', 'epoch']) if (!Number.isInteger(m[f]) || (m[f] as number) < 0) throw bad(f);
  if (!Array.isArray(m.particleSeeds) || !m.particleSeeds.every((s) => Number.isInteger(s) && s >= 0)) throw bad('particleSeeds');
  const common = m.common as ResolvedCommon;
  if (!common || typeof common !== 'object' || !common.optimizer) throw bad('common');
  if (!m.options || typeof m.options !== 'object') throw bad('options');
  let model: ModelSpec;
  try {
    model = validateSpec(m.model);
  } catch (err) {
    throw new PushInputError(`checkpoint ${dir}: its model spec is invalid (${(err as Error).message})`);
  }
  const { numParams, outputSize, inputShape } = modelIO(model);
  if (numParams !== m.numParams) throw new PushInputError(`checkpoint ${dir}: its model has ${numParams} parameters but manifest.json says ${m.numParams}: the checkpoint is corrupt`);
  return {
    algorithm: m.algorithm as AlgorithmName,
    common,
    options: m.options as AlgorithmOptions,
    model,
    numParams,
    inputShape,
    outputSize,
    task: m.task as Task,
    numClasses: m.numClasses as number | undefined,
    gaussian: m.gaussian === true,
    particleSeeds: m.particleSeeds as number[],
    epoch: m.epoch as number,
    data: m.data as DataRecord | undefined,
    noiseVariance: m.noiseVariance as number[] | undefined,
    trainLosses: m.trainLosses as number[] | undefined,
    metrics: m.metrics as EvaluationResult | undefined,
    meta: m.meta as Record<string, unknown> | undefined,
    calibration: UQ.parseStoredCalibration(m.calibration, m.task as Task, m.gaussian === true ? outputSize / 2 : outputSize, dir),
    devices: (m.devices as string[]) ?? [],
  };
}

/** What an algorithm's prediction plan may depend on. */
export function predictionRun(info: PosteriorInfo): PredictionRun {
  return { particleSeeds: info.particleSeeds, epoch: info.epoch, epochs: info.common.epochs, trainSize: info.data?.trainSize ?? 0, batchSize: info.common.batchSize };
}

/** A checkpoint opened, verified and decoded: what Posterior.open starts. */
export interface OpenedCheckpoint {
  dir: string;
  reader: CheckpointReader;
  info: PosteriorInfo;
  algorithm: Algorithm<any>;
  states: ParticleState[];
}

/** Reads and checks a checkpoint once (every file's size and sha256, the manifest, each particle's arrays), starting no worker. */
export function openCheckpoint(dir: string): OpenedCheckpoint {
  const reader = readCheckpointDir(dir);
  const info = infoFromManifest(reader.manifest, dir);
  const algorithm = algorithmNamed(info.algorithm);
  const slotNames = optimizerSlotNames(info.common);
  if (JSON.stringify(slotNames) !== JSON.stringify(reader.manifest.optimizerSlots)) {
    throw new PushInputError(`checkpoint ${dir}: optimizer slots ${describeValue(reader.manifest.optimizerSlots)} do not match optimizer ${info.common.optimizer.type}: the checkpoint is corrupt`);
  }
  const states = decodeParticles(reader, reader.manifest.particles, info.numParams, slotNames, algorithm);
  if (states.length !== info.particleSeeds.length) throw new PushInputError(`checkpoint ${dir}: ${states.length} particle records for ${info.particleSeeds.length} seeds: the checkpoint is corrupt`);
  return { dir, reader, info, algorithm, states };
}
