// The CLI's one door into src/bayes: training with checkpoints and resume,
// reading checkpoint manifests, loading a posterior on any device list, and
// predictions / metrics in the data's original units.
import { PushInputError } from '../util/errors';
import type { DataSplit, Dataset, Task } from '../data/dataset';
import type { LossName } from '../nn/losses';
import type { OptimizerConfig } from '../nn/optimizers';
import type { SchedulerConfig } from '../nn/schedulers';
import type { ModelSpec } from '../nn/spec';
import type { DeviceChoice } from './common';
import type { Log } from './output';
import { Interrupts } from './signals';
import { OpenedCheckpoint, Posterior, openCheckpoint, predictionRun } from '../bayes/posterior';
import type { EvaluationResult, PosteriorInfo } from '../bayes/posterior';
import type { TimingReport } from '../bayes/cluster';
import type { PhaseClock } from '../util/phases';
import type { FaultPolicy, ResolvedCommon } from '../bayes/options';
import type { WorkerRestartReport } from '../bayes/train-options';
import type { NanEvent } from '../bayes/faults';
import type { TrainProgress } from '../bayes/progress';
import { renamedModeError, validModes } from '../bayes/predictive';
import { ALGORITHMS } from '../bayes/algorithms/registry';
import type { ExportPlan } from '../browser/format';
import { optimizerSlotNames } from '../bayes/launch';
import { train } from '../bayes/train';
import { StoredData, loadTrainingData } from './data';
import { show } from './options';
import { checkStoredDataSpec } from './stored-paths';

/** What the CLI stores in a checkpoint's manifest (under meta.cli) to redo data, model and options. */
export interface CliMeta {
  version: 1;
  data: StoredData;
  train: {
    algo: string;
    particles: number;
    epochs: number;
    batchSize: number;
    seed: number;
    optimizer: OptimizerConfig;
    scheduler?: SchedulerConfig;
    algoOptions: Record<string, unknown>;
    data: { spec: string; task?: Task; testFraction: number; standardize: boolean; valFraction?: number };
  };
  model: string;
  loss: LossName;
  devices: DeviceChoice;
  /** Epochs completed when the checkpoint was written (filled in from the manifest when read). */
  epochDone: number;
}

export interface CheckpointInfo {
  dir: string;
  algo: string;
  particles: number;
  task: Task;
  loss: LossName;
  /** gaussian-nll models: regression modes include variance, aleatoric_var, epistemic_var. */
  gaussian: boolean;
  epoch: number;
  epochs: number;
  /** Present when the checkpoint was written by the CLI. */
  cli?: CliMeta;
  stored?: StoredData;
  /** The full manifest information. */
  info: PosteriorInfo;
  /** The checkpoint as read and checked: commands start its posterior from this, not from a second read. */
  opened: OpenedCheckpoint;
}

export interface MetricsTable {
  split: string;
  bma: Record<string, number>;
  particles: Record<string, number>[];
}

export type Prediction = Record<string, { data: Float32Array; shape: number[] }>;

/** What `train` asks the algorithms for: the resolved options a checkpoint stores, plus the run's setup. */
export interface TrainRequest extends ResolvedCommon, FaultPolicy {
  algo: string;
  split: DataSplit;
  model: ModelSpec;
  devices: DeviceChoice;
  /** Device-resident training; undefined: the backend's default. */
  resident?: boolean;
  algoOptions: Record<string, unknown>;
  checkpoint?: { dir: string; every: number };
  resumeFrom?: string;
  /** The --resume checkpoint as the command read it (read once per command). */
  resumed?: CheckpointInfo;
  meta: CliMeta;
  interrupts: Interrupts;
  onStart: (startEpoch: number) => void;
  onEpoch: (r: { epoch: number; epochs: number; losses: number[]; seconds: number; nanEvents: NanEvent[] }) => void;
  onWorkerRestart: (r: WorkerRestartReport) => void;
  /** Steps, running loss and particle-steps within an epoch (throttled by the devices). */
  onProgress?: (p: TrainProgress) => void;
  log: Log;
  /** Charged with each phase of the run as it ends. */
  phases?: PhaseClock;
}

export interface TrainRun {
  startEpoch: number;
  seconds: number;
  finalLoss: number[];
  metrics: MetricsTable | null;
  timing?: TimingReport;
  /** The algorithm's options as resolved by src/bayes (defaults filled in). */
  options?: Record<string, unknown>;
}

export interface OpenPosterior {
  predict(x: Float32Array, xShape: number[], modes: string[]): Promise<Prediction>;
  evaluate(ds: Dataset, split: string): Promise<MetricsTable>;
  close(): Promise<void>;
  /** The loaded posterior itself (uncertainty tools, src/cli/uncertainty-report.ts). */
  readonly posterior: Posterior;
}

/** dir holds a push-ens manifest (read bounded, without following symlinks). */
export { isCheckpointDir, holdsNoCheckpoint } from '../bayes/checkpoint-dir';
/** The one-line "locked by pid ..." error when another live run is writing dir. */
export { checkCheckpointUnlocked } from '../bayes/checkpoint-lock';
export { lockCheckpoint, storeCalibration } from '../bayes/checkpoint-calibration';

function prefixed<T>(flag: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PushInputError && !err.message.startsWith(flag)) throw new PushInputError(`${flag}: ${err.message}`);
    throw err;
  }
}

/**
 * Opens and verifies a checkpoint (format, version, file sizes and hashes, model) without
 * starting any worker. One-line errors for missing, foreign and corrupt directories.
 */
export function readCheckpointInfo(flag: string, dir: string): CheckpointInfo {
  return prefixed(flag, () => {
    // Every file's size and sha256, and every particle's weights and optimizer state against the
    // model: checked here, once, before any worker starts.
    const opened = openCheckpoint(dir);
    const info = opened.info;
    const cli = parseCliMeta(info.meta, dir);
    if (cli) cli.epochDone = info.epoch;
    const loss = info.common.loss;
    return {
      dir,
      algo: info.algorithm,
      particles: info.particleSeeds.length,
      task: info.task,
      loss,
      gaussian: info.gaussian,
      epoch: info.epoch,
      epochs: info.common.epochs,
      cli,
      stored: cli?.data,
      info,
      opened,
    };
  });
}

/**
 * What a verified checkpoint's posterior ships to the browser: its algorithm's export plan over the
 * particles decoded once by readCheckpointInfo. One line when the algorithm cannot be exported.
 */
export function checkpointExportPlan(info: CheckpointInfo): ExportPlan {
  return prefixed('--checkpoint', () => {
    const { algorithm, states } = info.opened;
    if (!algorithm.exportPlan) {
      const can = ALGORITHMS.filter((a) => a.exportPlan).map((a) => a.name);
      throw new PushInputError(`${show(info.dir)} holds a ${algorithm.title} posterior, which has no browser export: expected one of ${can.join(', ')}`);
    }
    return algorithm.exportPlan(info.info.options, states, predictionRun(info.info));
  });
}

function parseCliMeta(meta: Record<string, unknown> | undefined, dir: string): CliMeta | undefined {
  const cli = meta?.cli as CliMeta | undefined;
  if (cli === undefined) return undefined;
  const ok =
    cli && typeof cli === 'object' && cli.version === 1 && cli.data && typeof cli.data.spec === 'string' && Number.isInteger(cli.data.seed) && cli.train && typeof cli.train.data?.spec === 'string' && typeof cli.model === 'string';
  if (!ok) throw new PushInputError(`checkpoint ${dir}: manifest.json field meta.cli is malformed: the checkpoint is corrupt`);
  return { ...cli };
}

export function requireStoredData(info: CheckpointInfo, dataFlag: string | undefined): StoredData {
  if (info.stored) {
    checkStoredDataSpec(info.dir, info.stored.spec, dataFlag);
    return info.stored;
  }
  if (dataFlag === undefined) {
    throw new PushInputError(`checkpoint ${info.dir} was not written by push-ens train, so it does not name its data: expected --data SPEC`);
  }
  return { spec: dataFlag, seed: info.info.common.seed, task: info.task, testFraction: 0.2 };
}

/** Inputs must have the model's input size; checked before any worker starts. */
export function checkInputsFit(specText: string, xShape: readonly number[], info: CheckpointInfo): void {
  const want = info.info.inputShape;
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const row = xShape.slice(1);
  if (size(row) !== size(want)) {
    throw new PushInputError(
      `--data ${show(specText)} has inputs of shape [${row.join(', ')}], but the checkpoint's model takes inputs of shape [${want.join(', ')}]: expected data like its training data`,
    );
  }
}

/** --modes naming a renamed mode (aleatoric, epistemic) gets the new name, not "unknown mode". */
export function checkRenamedModes(raw: string): void {
  for (const name of raw.split(',').map((n) => n.trim())) {
    const err = renamedModeError(name, '--modes: mode');
    if (err) throw err;
  }
}

/** What a particle's prediction members are called in a plot legend ("samples", "passes"). */
export function memberNameOf(info: CheckpointInfo): string {
  const plan = info.opened.algorithm.predictionPlan(info.info.options, predictionRun(info.info));
  return plan.memberName ?? 'members';
}

export function validModesFor(info: CheckpointInfo): string[] {
  return [...validModes(info.task, { gaussian: info.gaussian })];
}

function metricsRecord(m: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === 'number') out[k] = v;
  return out;
}

function toTable(r: EvaluationResult, split: string): MetricsTable {
  return { split, bma: metricsRecord(r.bma), particles: r.members.map(metricsRecord) };
}

export async function openPosterior(info: CheckpointInfo, devices: DeviceChoice, interrupts: Interrupts): Promise<OpenPosterior> {
  let posterior: Posterior | undefined;
  let closed = false;
  const removeCleanup = interrupts.onCleanup(async () => {
    closed = true;
    await posterior?.close();
  });
  interrupts.throwIfInterrupted();
  posterior = await Posterior.open(info.opened, { devices: devices.devices, backend: devices.backend, isolation: devices.isolation, cacheSize: devices.cacheSize, nats: devices.nats });
  if (closed || interrupts.received) {
    await posterior.close();
    interrupts.throwIfInterrupted();
  }
  const p = posterior;
  return {
    async predict(x, xShape, modes) {
      const r = await p.predict({ x, xShape }, { modes, originalUnits: true });
      return r as Prediction;
    },
    async evaluate(ds, split) {
      return toTable(await p.evaluate({ x: ds.x, xShape: ds.xShape }, ds.y, { originalUnits: true }), split);
    },
    async close() {
      removeCleanup();
      await p.close();
    },
    posterior: p,
  };
}

/** Trains with checkpoints (and resume), then evaluates the held-out split in original units. */
export async function trainWithEngine(req: TrainRequest): Promise<TrainRun> {
  const { interrupts } = req;
  const resumed = req.resumeFrom === undefined ? undefined : (req.resumed ?? readCheckpointInfo('--resume', req.resumeFrom));
  let startEpoch = resumed?.epoch ?? 0;
  let started = false;
  const t0 = performance.now();
  let metrics: MetricsTable | null = null;
  const options = {
    model: req.model,
    data: req.split,
    loss: req.loss,
    epochs: req.epochs,
    batchSize: req.batchSize,
    optimizer: req.optimizer,
    scheduler: req.scheduler,
    particles: req.particles,
    devices: req.devices.devices,
    backend: req.devices.backend,
    isolation: req.devices.isolation,
    nats: req.devices.nats,
    cacheSize: req.devices.cacheSize,
    resident: req.resident,
    seed: req.seed,
    signal: interrupts.signal,
    checkpoint: req.checkpoint,
    resumeFrom: resumed?.opened ?? req.resumeFrom,
    meta: { cli: req.meta },
    onNan: req.onNan,
    timeoutMs: req.timeoutMs,
    restartWorkers: req.restartWorkers,
    onWorkerRestart: req.onWorkerRestart,
    onProgress: req.onProgress,
    phases: req.phases,
    // Inside the training run, so that --restart-workers covers this evaluation too.
    afterTraining: async (posterior: Posterior) => {
      metrics = null;
      if (!req.split.test) return;
      if (req.split.normalization) {
        // Trained on standardized data: score the same held-out examples in original units.
        const original = loadTrainingData({ ...req.meta.train.data, seed: req.seed, standardize: false });
        if (original.test) metrics = toTable(await posterior.evaluate({ x: original.test.x, xShape: original.test.xShape }, original.test.y, { originalUnits: true }), 'test');
      } else if (posterior.info.metrics) {
        metrics = toTable(posterior.info.metrics, 'test');
      }
      req.phases?.lap('evaluation');
    },
    onEpoch: (r: { epoch: number; epochs: number; losses: number[]; seconds: number; nanEvents: NanEvent[] }) => {
      if (!started) {
        started = true;
        startEpoch = r.epoch - 1;
      }
      req.onEpoch(r);
    },
    ...req.algoOptions,
  };
  req.onStart(startEpoch);
  const posterior = await train(req.algo, options);
  const trainSeconds = (performance.now() - t0) / 1000;
  try {
    return {
      startEpoch,
      seconds: trainSeconds,
      finalLoss: posterior.info.trainLosses ?? [],
      metrics,
      timing: posterior.info.timing,
      options: { ...posterior.info.options } as Record<string, unknown>,
    };
  } finally {
    await posterior.close();
  }
}
