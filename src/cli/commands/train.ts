// `push-ens train`: load data, build the model, train the particles with one
// of the registry's algorithms, checkpoint as it goes, and report time, throughput,
// each particle's final loss and the BMA's held-out metrics next to each
// particle's.
import * as path from 'node:path';
import { Command } from 'commander';
import { PushInputError } from '../../util/errors';
import type { DataSplit } from '../../data/dataset';
import type { ModelSpec } from '../../nn/spec';
import { DEFAULT_TEST_FRACTION, describeDataSpecs } from '../../data/specs';
import { parseOptimizerConfig, OptimizerConfig } from '../../nn/optimizers';
import { parseSchedulerConfig, SchedulerConfig } from '../../nn/schedulers';
import { NATS_FLAG_KEYS } from '../nats-flags';
import { withoutSecrets } from '../common';
import { ModeOf, addDeviceFlags, addOutputFlags, resolveDevices, DeviceChoice, deviceWarnings, prestartDeviceThreads, releasePrestartedThreads } from '../common';
import { Log, OutputMode, emitResult, fmt, fmtInt, fmtSeconds, formatTable } from '../output';
import {
  MAX_SEED,
  NAN_POLICIES,
  NanPolicy,
  TASKS,
  TRAIN_DEFAULTS,
  checkOutputPath,
  parseChoice,
  parseInteger,
  parseNumber,
  parseSchedulerOption,
  show,
} from '../options';
import { describeModelSpecs, resolveModelSpec, countParameters, modelTextNamesFile } from '../model-spec';
import { checkStoredDataSpec, dataSpecFile } from '../stored-paths';
import { StoredData, checkBatchSize, chooseLoss, inputShapeOf, loadTrainingData, outputSizeFor, parseDataSpecOption } from '../data';
import { Progress, chooseProgressStyle } from '../progress';
import { Interrupts, InterruptedError, reportInterruptOnce, stoppingNote } from '../signals';
import { MAX_NAN_EVENTS_IN_JSON, nanEpochNote, restartNote, withCheckpointHint } from '../faults';
import type { NanEvent } from '../../bayes/faults';
import type { WorkerRestartReport } from '../../bayes/train-options';
import type { ResolvedCommon } from '../../bayes/options';
import { ALGORITHMS, ALGORITHM_NAMES, algorithmNamed } from '../../bayes/algorithms/registry';
import { OptionSpec, parseFlag } from '../../bayes/algorithms/schema';
import type { Algorithm } from '../../bayes/algorithms/types';
import type * as Engine from '../engine';
import { engine } from '../lazy';
import { PhaseClock, formatPhases } from '../../util/phases';

export interface TrainFlags {
  algo?: string;
  particles?: string;
  devices?: string;
  data?: string;
  task?: string;
  testFraction?: string;
  valFraction?: string;
  standardize?: boolean;
  model?: string;
  loss?: string;
  epochs?: string;
  batchSize?: string;
  lr?: string;
  optimizer?: string;
  momentum?: string;
  weightDecay?: string;
  scheduler?: string;
  seed?: string;
  cacheSize?: string;
  backend?: string;
  isolation?: string;
  resident?: boolean;
  // checkpoints
  out?: string;
  resume?: string;
  checkpointEvery?: string;
  force?: boolean;
  // faults
  onNan?: string;
  timeout?: string;
  restartWorkers?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** Algorithm options, under commander's name for their flag (--swag-lr: swagLr). */
  [algorithmFlag: string]: string | boolean | undefined;
}

/** Commander's key of a flag: --swag-lr -> swagLr. */
function flagKey(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Every algorithm flag with the algorithms that take it (a flag may serve several, e.g. --samples). */
function algorithmFlags(): Map<string, { spec: OptionSpec; algos: Algorithm<any>[] }> {
  const flags = new Map<string, { spec: OptionSpec; algos: Algorithm<any>[] }>();
  for (const a of ALGORITHMS) {
    for (const spec of a.options) {
      if (spec.apiOnly) continue;
      const key = flagKey(spec.flag);
      const entry = flags.get(key);
      if (entry) entry.algos.push(a);
      else flags.set(key, { spec, algos: [a] });
    }
  }
  return flags;
}

/** Which algorithms each algorithm-specific flag applies to. */
const ALGO_FLAGS = algorithmFlags();

/** Flags that may differ when resuming (the rest come from the checkpoint). */
const RESUMABLE = new Set([
  'epochs', 'devices', 'backend', 'isolation', 'cacheSize', 'resident', 'out', 'resume', 'checkpointEvery', 'force',
  'onNan', 'timeout', 'restartWorkers', 'json', 'quiet', 'verbose', ...NATS_FLAG_KEYS,
]);

const FLAG_NAMES: Record<string, string> = {
  algo: '--algo', particles: '--particles', data: '--data', task: '--task', testFraction: '--test-fraction', valFraction: '--val-fraction', standardize: '--standardize',
  model: '--model', loss: '--loss', batchSize: '--batch-size', lr: '--lr', optimizer: '--optimizer', momentum: '--momentum',
  weightDecay: '--weight-decay', scheduler: '--scheduler', seed: '--seed',
  ...Object.fromEntries([...ALGO_FLAGS].map(([k, v]) => [k, v.spec.flag])),
};

export function registerTrain(program: Command, modeOf: ModeOf): void {
  const cmd = program
    .command('train')
    .summary(`train a posterior: ${ALGORITHMS.map((a) => a.title).join(', ')}`)
    .description(
      `Train particles with one of the algorithms (${ALGORITHMS.map((a) => `${a.name}: ${a.summary}`).join('; ')}) and report the time, particle-steps per second, ` +
        "each particle's final loss and the Bayesian model average's metrics on the held-out split " +
        "next to each particle's. With no flags it runs the Push seed tutorial: random data " +
        '(seed-random, 1280 x 20), BiggerNN(10, 20), MSE, 10 epochs, batch 128, Adam lr 0.01, on cpu:0, ' +
        `as a deep ensemble of ${TRAIN_DEFAULTS.particles} particles.`,
    )
    .option('--algo <name>', `${ALGORITHM_NAMES.join(', ')} (default: ${TRAIN_DEFAULTS.algo})`)
    .option('-p, --particles <n>', `number of particles (default: ${TRAIN_DEFAULTS.particles})`);
  addDeviceFlags(cmd, 'train')
    .option('--resident', 'keep parameters, gradients and optimizer state on the device between checkpoints (default: on the tensorflow backend, cuda:N)')
    .option('--no-resident', 'update parameters on the host every step (default on wasm and cpu)');
  cmd
    .option('--data <spec>', `training data, see "Data specs" below (default: ${TRAIN_DEFAULTS.data})`)
    .option('--task <task>', 'regression or classification (csv: data only; default regression)')
    .option('--test-fraction <f>', `fraction of the data held out for metrics, in [0, 1) (default: ${DEFAULT_TEST_FRACTION}; mnist has its own split)`)
    .option('--val-fraction <f>', 'fraction of the training examples held out as a validation split for push-ens calibrate, in [0, 1) (default: 0)')
    .option('--standardize', 'standardize inputs and regression targets with training statistics (metrics and predictions stay in original units)')
    .option('--model <spec>', `network, see "Model specs" below (default: ${TRAIN_DEFAULTS.model})`)
    .option('--loss <name>', 'mse or gaussian-nll for regression, cross-entropy for classification (default: mse / cross-entropy by task)')
    .option('-e, --epochs <n>', `training epochs; for mswag all epochs, SWAG ones included (default: ${TRAIN_DEFAULTS.epochs})`)
    .option('-b, --batch-size <n>', `examples per step (default: ${TRAIN_DEFAULTS.batchSize}, or the training set size if smaller)`)
    .option('--lr <rate>', `learning rate (default: ${TRAIN_DEFAULTS.lr})`)
    .option('--optimizer <name>', `adam, adamw or sgd (default: ${TRAIN_DEFAULTS.optimizer})`)
    .option('--momentum <m>', 'sgd momentum (default: 0)')
    .option('--weight-decay <wd>', 'L2 weight decay (adamw: decoupled; default: 0, adamw 0.01)')
    .option('--scheduler <spec>', 'learning-rate schedule stepped once per epoch: TYPE[:KEY=VALUE,...], e.g. cosine:tMax=10, step:stepSize=5,gamma=0.5, exponential:gamma=0.9, linear')
    .option('--seed <n>', `base seed of data, split, initialisation and batch order (default: ${TRAIN_DEFAULTS.seed})`)
    .optionsGroup('Algorithm options:');
  for (const { spec, algos } of ALGO_FLAGS.values()) {
    const dflt = spec.defaultText !== undefined ? ` (default: ${spec.defaultText})` : '';
    cmd.option(spec.arg ? `${spec.flag} ${spec.arg}` : spec.flag, `${algos.map((a) => a.name).join(', ')}: ${spec.help}${dflt}`);
  }
  cmd
    .optionsGroup('Checkpoints:');
  cmd
    .option('-o, --out <dir>', 'write a checkpoint directory (atomically, every --checkpoint-every epochs and at the end)')
    .option('--checkpoint-every <n>', `epochs between checkpoints (default: ${TRAIN_DEFAULTS.checkpointEvery})`)
    .option('--resume <dir>', 'continue the run in this checkpoint (its data, model and options); --epochs may extend it')
    .option('--force', 'replace an existing checkpoint in --out')
    .optionsGroup('Faults:');
  cmd
    .option('--on-nan <policy>', `a NaN or infinite loss: stop (with the particle, epoch and step), skip that particle's update, or reinit the particle (default: ${TRAIN_DEFAULTS.onNan}; svgd: stop only)`)
    .option('--timeout <ms>', 'a device that takes longer than this to answer one message (an epoch, a checkpoint read) is taken for dead: its worker is killed and the run fails, or restarts it under --restart-workers (default: no limit)')
    .option('--restart-workers <n>', `restart a dead (or timed-out) device worker up to N times, from the first epoch to the final save: every particle goes back to the last checkpoint and the lost epochs are redone (default: ${TRAIN_DEFAULTS.restartWorkers})`)
    .optionsGroup('Output:');
  addOutputFlags(cmd);
  cmd.addHelpText('after', '\n' + describeDataSpecs() + '\n\n' + describeModelSpecs() + '\n');
  cmd.action(async (flags: TrainFlags) => {
    await runTrain(flags, modeOf(flags));
  });
}

/** --val-fraction, or the resumed run's (a resumed run keeps its split). */
function planValFraction(flags: TrainFlags, s: Engine.CliMeta['train'] | undefined): number | undefined {
  if (flags.valFraction === undefined) return s?.data.valFraction;
  const f = parseNumber('--val-fraction', flags.valFraction, { min: 0, max: 1, maxExclusive: true });
  if (s && f !== (s.data.valFraction ?? 0)) throw new PushInputError(`--val-fraction ${f}: a resumed run keeps its validation split (${s.data.valFraction ?? 0}); drop --val-fraction`);
  return f || undefined;
}

/** Everything train needs, validated. */
export interface TrainPlan {
  algo: string;
  particles: number;
  data: { spec: string; task?: 'regression' | 'classification'; testFraction: number; standardize: boolean; valFraction?: number };
  model: string;
  loss?: string;
  epochs: number;
  batchSize: number;
  batchSizeExplicit: boolean;
  optimizer: OptimizerConfig;
  scheduler?: SchedulerConfig;
  seed: number;
  algoOptions: Record<string, unknown>;
  out?: string;
  resume?: string;
  checkpointEvery: number;
  force: boolean;
  onNan: NanPolicy;
  timeoutMs?: number;
  restartWorkers: number;
  resident?: boolean;
}

/** Parses every flag (no files read except --resume's manifest, no workers). */
export function planTrain(flags: TrainFlags, stored?: Engine.CliMeta): TrainPlan {
  const given = (k: string) => flags[k] !== undefined;
  // The checkpoint's settings stand in for flags that were not given.
  const s = stored?.train;
  const algo = parseChoice('--algo', flags.algo ?? s?.algo ?? TRAIN_DEFAULTS.algo, ALGORITHM_NAMES);
  const algorithm = algorithmNamed(algo);
  for (const [key, { spec, algos }] of ALGO_FLAGS) {
    if (given(key) && !algos.includes(algorithm)) {
      throw new PushInputError(`${spec.flag} applies to --algo ${algos.map((a) => a.name).join(' or ')}, not ${algo}`);
    }
  }
  const particles = flags.particles !== undefined ? parseInteger('--particles', flags.particles, 1, 100000) : s?.particles ?? TRAIN_DEFAULTS.particles;
  if (algorithm.minParticles !== undefined && particles < algorithm.minParticles) {
    throw new PushInputError(`--particles ${particles}: ${algo} needs at least ${algorithm.minParticles} particles`);
  }
  const epochs = flags.epochs !== undefined ? parseInteger('--epochs', flags.epochs, 1, 1_000_000) : s?.epochs ?? TRAIN_DEFAULTS.epochs;
  const batchSize = flags.batchSize !== undefined ? parseInteger('--batch-size', flags.batchSize, 1) : s?.batchSize ?? TRAIN_DEFAULTS.batchSize;
  const seed = flags.seed !== undefined ? parseInteger('--seed', flags.seed, 0, MAX_SEED) : s?.seed ?? TRAIN_DEFAULTS.seed;
  const testFraction =
    flags.testFraction !== undefined ? parseNumber('--test-fraction', flags.testFraction, { min: 0, max: 1, maxExclusive: true }) : s?.data.testFraction ?? DEFAULT_TEST_FRACTION;
  const task = flags.task !== undefined ? parseChoice('--task', flags.task, TASKS) : s?.data.task;
  const dataSpec = flags.data ?? s?.data.spec ?? TRAIN_DEFAULTS.data;
  const parsedData = parseDataSpecOption(dataSpec);
  if (flags.task !== undefined && parsedData.kind !== 'csv') {
    throw new PushInputError(`--task applies to csv: data only; ${show(dataSpec)} is always ${parsedData.kind === 'two-moons' || parsedData.kind === 'mnist' ? 'classification' : 'regression'}`);
  }
  const model = flags.model ?? stored?.model ?? TRAIN_DEFAULTS.model;

  let optimizer: OptimizerConfig;
  if (s && flags.lr === undefined && flags.optimizer === undefined && flags.momentum === undefined && flags.weightDecay === undefined) {
    optimizer = s.optimizer;
  } else {
    const type = parseChoice('--optimizer', flags.optimizer ?? TRAIN_DEFAULTS.optimizer, ['adam', 'adamw', 'sgd']);
    const raw: Record<string, unknown> = { type, lr: flags.lr !== undefined ? parseNumber('--lr', flags.lr, { min: 0, minExclusive: true }) : TRAIN_DEFAULTS.lr };
    if (flags.momentum !== undefined) {
      if (type !== 'sgd') throw new PushInputError(`--momentum applies to --optimizer sgd, not ${type}`);
      raw.momentum = parseNumber('--momentum', flags.momentum, { min: 0, max: 1, maxExclusive: true });
    }
    if (flags.weightDecay !== undefined) raw.weightDecay = parseNumber('--weight-decay', flags.weightDecay, { min: 0 });
    optimizer = parseOptimizerConfig(raw);
  }
  let scheduler: SchedulerConfig | undefined = s?.scheduler;
  if (flags.scheduler !== undefined) {
    try {
      scheduler = parseSchedulerConfig(parseSchedulerOption(flags.scheduler));
    } catch (err) {
      if (err instanceof PushInputError && !err.message.startsWith('--scheduler')) throw new PushInputError(`--scheduler ${show(flags.scheduler)}: ${err.message}`);
      throw err;
    }
  }

  // Flags are parsed with the algorithm's schema, then its resolve checks them together, as the API does.
  let algoOptions: Record<string, unknown> = s && s.algo === algo ? { ...s.algoOptions } : {};
  for (const spec of algorithm.options) {
    const raw = spec.apiOnly ? undefined : flags[flagKey(spec.flag)];
    if (raw === undefined) continue;
    const value = parseFlag(spec, raw, show);
    Object.assign(algoOptions, spec.toApi ? spec.toApi(value) : { [spec.key]: value });
  }
  if (algorithm.cliOptions) algoOptions = algorithm.cliOptions(algoOptions, { epochs });
  algorithm.resolve(algoOptions, { epochs } as ResolvedCommon);
  if (flags.checkpointEvery !== undefined && flags.out === undefined && flags.resume === undefined) {
    throw new PushInputError('--checkpoint-every needs --out DIR (or --resume DIR) to write checkpoints to');
  }
  const checkpointEvery = flags.checkpointEvery !== undefined ? parseInteger('--checkpoint-every', flags.checkpointEvery, 1) : TRAIN_DEFAULTS.checkpointEvery;
  if (flags.force && flags.out === undefined) throw new PushInputError('--force applies to --out DIR: there is no --out to replace');
  const onNan = parseChoice('--on-nan', flags.onNan ?? TRAIN_DEFAULTS.onNan, NAN_POLICIES);
  if (algorithm.nanPolicies && !algorithm.nanPolicies.includes(onNan)) {
    throw new PushInputError(`--on-nan ${onNan}: ${algo} supports only ${algorithm.nanPolicies.join(' or ')}`);
  }
  const timeoutMs = flags.timeout !== undefined ? parseInteger('--timeout', flags.timeout, 1) : undefined;
  const restartWorkers = flags.restartWorkers !== undefined ? parseInteger('--restart-workers', flags.restartWorkers, 0, 1000) : TRAIN_DEFAULTS.restartWorkers;
  return {
    algo,
    particles,
    data: { spec: dataSpec, task, testFraction, standardize: flags.standardize ?? s?.data.standardize ?? false, valFraction: planValFraction(flags, s) },
    model,
    loss: flags.loss ?? stored?.loss,
    epochs,
    batchSize,
    batchSizeExplicit: flags.batchSize !== undefined || s !== undefined,
    optimizer,
    scheduler,
    seed,
    algoOptions,
    out: flags.out,
    resume: flags.resume,
    checkpointEvery,
    force: !!flags.force,
    onNan,
    timeoutMs,
    restartWorkers,
    resident: flags.resident,
  };
}

/** When resuming, flags that would change the run are refused. */
function checkResumeFlags(flags: TrainFlags, dir: string, stored: Engine.CliMeta): void {
  // A run trained on a file needs --data naming a file: the checkpoint's path is not opened for it.
  const dataFromFile = dataSpecFile(stored.train.data.spec) !== undefined;
  for (const key of Object.keys(flags)) {
    if (flags[key] === undefined || RESUMABLE.has(key) || (key === 'data' && dataFromFile)) continue;
    const flag = FLAG_NAMES[key] ?? `--${key}`;
    throw new PushInputError(`${flag} cannot change a resumed run: ${show(dir)} was trained with its own ${flag.slice(2)} setting; drop ${flag}, or start a new run with --out`);
  }
  if (flags.epochs !== undefined) {
    const epochs = parseInteger('--epochs', flags.epochs, 1);
    if (epochs < stored.epochDone) throw new PushInputError(`--epochs ${epochs}: ${show(dir)} has already trained ${stored.epochDone} epochs, expected at least that many`);
    if (algorithmNamed(stored.train.algo).fixedEpochs && epochs !== stored.train.epochs) {
      throw new PushInputError(`--epochs ${epochs}: a resumed ${stored.train.algo} run keeps its schedule of ${stored.train.epochs} epochs; drop --epochs`);
    }
  }
}

export async function runTrain(flags: TrainFlags, mode: OutputMode): Promise<void> {
  const log = new Log(mode);
  let stored: Engine.CliMeta | undefined;
  let resumedModel: ModelSpec | undefined;
  let resumed: Engine.CheckpointInfo | undefined;
  if (flags.resume !== undefined) {
    const info = (resumed = engine().readCheckpointInfo('--resume', flags.resume));
    if (!info.cli) throw new PushInputError(`--resume ${show(flags.resume)}: the checkpoint was not written by push-ens train, expected one that was`);
    stored = info.cli;
    checkResumeFlags(flags, flags.resume, stored);
    checkStoredDataSpec(flags.resume, stored.train.data.spec, flags.data);
    // A model file named in the checkpoint is not opened: the checkpoint holds the model it trained.
    if (modelTextNamesFile(stored.model)) resumedModel = info.info.model;
  }
  const plan = planTrain(flags, stored);
  // A run already writing the directory is named at once (the lock itself is taken before the workers start).
  const writesTo = plan.out ?? plan.resume;
  if (writesTo !== undefined) engine().checkCheckpointUnlocked(writesTo);
  const inPlace = plan.out !== undefined && plan.resume !== undefined && path.resolve(plan.out) === path.resolve(plan.resume);
  const outDir =
    plan.out !== undefined
      ? checkOutputPath('--out', plan.out, { kind: 'dir', overwrite: plan.force || inPlace, isOurs: (p) => engine().isCheckpointDir(p), isEmpty: (p) => engine().holdsNoCheckpoint(p) })
      : undefined;

  // Data, loss and model: every input error surfaces here, before any worker starts.
  const split: DataSplit = loadTrainingData({ ...plan.data, seed: plan.seed });
  const train = split.train;
  const loss = chooseLoss(plan.loss, train.task, plan.data.spec);
  const outputSize = outputSizeFor(train, loss);
  const model = resumedModel ? { text: plan.model, spec: resumedModel } : resolveModelSpec(plan.model, { inputShape: inputShapeOf(train), outputSize });
  const batchSize = checkBatchSize(plan.batchSize, train, plan.batchSizeExplicit);
  const devices: DeviceChoice = await resolveDevices(flags, stored?.devices);
  for (const warning of deviceWarnings(devices.devices, plan.particles)) log.warn(warning);
  const prestarted = prestartDeviceThreads(devices);
  log.debug(`device threads: ${prestarted.early} started at launch, ${prestarted.now} now`);

  const storedData: StoredData = {
    spec: plan.data.spec,
    seed: plan.seed,
    task: train.task,
    testFraction: plan.data.testFraction,
    ...(plan.data.valFraction ? { valFraction: plan.data.valFraction } : {}),
    featureNames: train.featureNames,
    targetName: train.targetName,
    classNames: train.classNames,
  };
  const meta: Engine.CliMeta = {
    version: 1,
    data: storedData,
    train: {
      algo: plan.algo,
      particles: plan.particles,
      epochs: plan.epochs,
      batchSize,
      seed: plan.seed,
      optimizer: plan.optimizer,
      scheduler: plan.scheduler,
      algoOptions: plan.algoOptions,
      data: { spec: plan.data.spec, task: plan.data.task, testFraction: plan.data.testFraction, standardize: plan.data.standardize, ...(plan.data.valFraction ? { valFraction: plan.data.valFraction } : {}) },
    },
    model: plan.model,
    loss,
    devices: withoutSecrets(devices),
    epochDone: 0,
  };

  log.debug(`train plan: ${JSON.stringify({ ...plan, batchSize, loss, devices: withoutSecrets(devices) })}`);
  log.debug(`model spec: ${JSON.stringify(model.spec)}`);
  if (split.normalization) log.debug(`normalization: ${JSON.stringify(split.normalization)}`);
  const params = countParameters(model.spec);
  log.info(
    `push-ens train: ${plan.algo}, ${plan.particles} particles on ${devices.devices.join(',')} (${devices.backend}, ${devices.isolation}), ` +
      `${plan.epochs} epoch${plan.epochs === 1 ? '' : 's'}, batch ${batchSize}`,
  );
  log.info(
    `data ${plan.data.spec}: ${train.task}, ${train.xShape[0]} train / ${split.test?.xShape[0] ?? 0} test examples` +
      `${plan.data.standardize ? ', standardized' : ''}; model ${model.text}${params !== undefined ? ` (${fmtInt(params)} parameters)` : ''}; loss ${loss}`,
  );
  if (plan.resume) log.info(`resuming ${plan.resume} at epoch ${stored!.epochDone}/${plan.epochs}`);

  const progress = new Progress(chooseProgressStyle(mode), process.stderr, { lineEveryMs: mode.verbose ? 10_000 : 0 });
  const checkpointDir = outDir ?? plan.resume;
  const shownDir = plan.out ?? plan.resume;
  const interruptHint = (): string => {
    if (!checkpointDir) return 'no checkpoint was being written (no --out)';
    return engine().isCheckpointDir(checkpointDir)
      ? `the last complete checkpoint in ${shownDir} is valid; continue with --resume ${shownDir}`
      : `no checkpoint was written yet to ${shownDir}`;
  };
  // The first signal stops the run after the running step, and says so at once; a second
  // signal, or a step that outlasts the grace period, ends it at once (worker processes killed).
  const interrupts = new Interrupts(
    8000,
    (sig) => {
      progress.finish();
      reportInterruptOnce(`push-ens: interrupted by ${sig}: ${interruptHint()}`);
    },
    (sig) => {
      const line = `push-ens: ${stoppingNote(sig)}`;
      if (progress.style === 'none') process.stderr.write(line + '\n');
      else progress.note(line);
    },
  ).install();
  const stepsPerEpoch = Math.ceil(train.xShape[0] / batchSize);
  let epochSeconds = 0;
  const nanEvents: NanEvent[] = [];
  let nanEventCount = 0;
  const workerRestarts: WorkerRestartReport[] = [];
  const phases = new PhaseClock();
  let run: Engine.TrainRun;
  try {
    run = await engine().trainWithEngine({
      algo: plan.algo,
      split,
      model: model.spec,
      loss,
      epochs: plan.epochs,
      batchSize,
      optimizer: plan.optimizer,
      scheduler: plan.scheduler,
      particles: plan.particles,
      seed: plan.seed,
      devices,
      algoOptions: plan.algoOptions,
      checkpoint: outDir ? { dir: outDir, every: plan.checkpointEvery } : plan.resume ? { dir: plan.resume, every: plan.checkpointEvery } : undefined,
      resumeFrom: plan.resume,
      resumed,
      meta,
      onNan: plan.onNan,
      timeoutMs: plan.timeoutMs,
      restartWorkers: plan.restartWorkers,
      resident: plan.resident,
      interrupts,
      phases,
      onStart: (startEpoch) => progress.start(plan.epochs, startEpoch),
      onProgress: (p) => progress.step({ ...p, phase: algorithmPhase(plan, p.epoch) }),
      onEpoch: (r) => {
        // Under --on-nan skip or reinit a particle that took no finite step has no mean loss.
        const finite = r.losses.filter((l) => Number.isFinite(l));
        const meanLoss = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN;
        const phase = algorithmPhase(plan, r.epoch);
        epochSeconds += r.seconds;
        progress.epoch({ epoch: r.epoch, epochs: r.epochs, loss: meanLoss, particleStepsPerSecond: (plan.particles * stepsPerEpoch) / Math.max(r.seconds, 1e-9), phase });
        if (r.nanEvents.length > 0) {
          nanEventCount += r.nanEvents.length;
          nanEvents.push(...r.nanEvents.slice(0, MAX_NAN_EVENTS_IN_JSON - nanEvents.length));
          progress.note(nanEpochNote(plan.onNan, r.epoch, r.epochs, r.nanEvents));
        }
      },
      onWorkerRestart: (r) => {
        workerRestarts.push(r);
        const line = restartNote(r, plan.restartWorkers);
        if (progress.style === 'none') log.warn(line);
        else progress.note(`push-ens: warning: ${line}`);
      },
      log,
    });
  } catch (err) {
    progress.finish();
    if (interrupts.received) throw new InterruptedError(interrupts.received, interruptHint());
    throw withCheckpointHint(err, interruptHint);
  } finally {
    interrupts.uninstall();
    releasePrestartedThreads();
  }
  progress.finish();
  const phaseReport = phases.report();
  log.debug(formatPhases(phaseReport));

  const trainedEpochs = plan.epochs - run.startEpoch;
  const particleSteps = plan.particles * stepsPerEpoch * trainedEpochs;
  const stepsPerSecond = particleSteps / Math.max(epochSeconds, 1e-9);
  const checkpoint = outDir ?? plan.resume ?? null;
  const result = {
    command: 'train',
    algo: plan.algo,
    particles: plan.particles,
    devices: devices.devices,
    backend: devices.backend,
    isolation: devices.isolation,
    data: { spec: plan.data.spec, task: train.task, train: train.xShape[0], test: split.test?.xShape[0] ?? 0, standardized: plan.data.standardize },
    model: { spec: model.text, parameters: params ?? null },
    loss,
    epochs: plan.epochs,
    startEpoch: run.startEpoch,
    batchSize,
    seed: plan.seed,
    options: run.options ?? plan.algoOptions,
    seconds: run.seconds,
    trainingSeconds: epochSeconds,
    particleSteps,
    particleStepsPerSecond: stepsPerSecond,
    finalLoss: run.finalLoss,
    onNan: plan.onNan,
    nanEventCount,
    // JSON has no NaN or Infinity: the loss is written as text when it is one of them.
    nanEvents: nanEvents.map((e) => ({ particle: e.pid, epoch: e.epoch, step: e.step, steps: e.steps, loss: Number.isFinite(e.loss) ? e.loss : String(e.loss), action: e.action })),
    workerRestarts: workerRestarts.map((r) => ({ device: r.device, reason: r.reason, particles: r.particles, backToEpoch: r.epoch })),
    metrics: run.metrics,
    timing: run.timing ? { messagingFraction: run.timing.messagingMs / Math.max(run.timing.wallMs, 1e-9), ...run.timing } : null,
    phases: phaseReport,
    checkpoint,
  };
  emitResult(mode, result, () => formatTrainResult({ ...result, checkpoint: plan.out ?? plan.resume ?? null }, run.metrics));
}

/** The algorithm's phase of a 1-based epoch for the progress line (e.g. MultiSWAG's pretrain / swag). */
function algorithmPhase(plan: TrainPlan, epoch: number): string | undefined {
  const algorithm = algorithmNamed(plan.algo);
  if (!algorithm.phase) return undefined;
  return algorithm.phase(algorithm.resolve(plan.algoOptions, { epochs: plan.epochs } as ResolvedCommon), epoch, plan.epochs);
}

interface TrainResultText {
  onNan?: string;
  nanEventCount?: number;
  workerRestarts?: unknown[];
  seconds: number;
  trainingSeconds: number;
  particleSteps: number;
  particleStepsPerSecond: number;
  finalLoss: number[];
  checkpoint: string | null;
  startEpoch: number;
  epochs: number;
}

export function formatTrainResult(r: TrainResultText, metrics: Engine.MetricsTable | null): string {
  const lines: string[] = [];
  if (r.startEpoch >= r.epochs) lines.push(`no epochs left to train: the checkpoint has trained all ${r.epochs}`);
  else lines.push(
    `trained epochs ${r.startEpoch + 1}-${r.epochs}: ${fmtInt(r.particleSteps)} particle-steps in ${fmtSeconds(r.trainingSeconds)}, ` +
      `${fmtInt(r.particleStepsPerSecond)} particle-steps/s (${fmtSeconds(r.seconds)} in all, with start-up and evaluation)`,
  );
  if (r.nanEventCount) {
    const what = r.onNan === 'reinit' ? 'particle re-initialisations' : 'skipped particle-steps';
    lines.push(`non-finite losses: ${fmtInt(r.nanEventCount)} ${what} (--on-nan ${r.onNan})`);
  }
  if (r.workerRestarts?.length) lines.push(`dead device workers restarted: ${r.workerRestarts.length}`);
  lines.push('');
  lines.push(metricsTable(metrics, r.finalLoss));
  if (r.checkpoint) lines.push('', `checkpoint: ${r.checkpoint}`);
  return lines.join('\n');
}

/** Rows: the BMA, then each particle with its final training loss. */
export function metricsTable(metrics: Engine.MetricsTable | null, finalLoss?: number[]): string {
  const keys = metrics ? metricKeys(metrics) : [];
  const header = ['', ...(finalLoss ? ['train loss'] : []), ...keys.map((k) => `${metrics!.split} ${k}`)];
  const rows: string[][] = [];
  if (metrics) rows.push(['BMA', ...(finalLoss ? ['-'] : []), ...keys.map((k) => fmt(metrics.bma[k]))]);
  const n = Math.max(finalLoss?.length ?? 0, metrics?.particles.length ?? 0);
  for (let i = 0; i < n; i++) {
    rows.push([
      `particle ${i}`,
      ...(finalLoss ? [fmt(finalLoss[i])] : []),
      ...keys.map((k) => fmt(metrics!.particles[i]?.[k])),
    ]);
  }
  if (!metrics) return formatTable(header, rows) + '\n(no held-out split: --test-fraction 0)';
  return formatTable(header, rows);
}

function metricKeys(m: Engine.MetricsTable): string[] {
  const order = ['rmse', 'accuracy', 'nll', 'ece', 'brier'];
  return order.filter((k) => m.bma[k] !== undefined);
}
