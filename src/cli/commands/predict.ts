// `push-ens predict`: the posterior predictive of a checkpoint on new inputs,
// reduced to the asked modes, as CSV or JSON (in the data's original units).
import { Command } from 'commander';
import { PushInputError } from '../../util/errors';
import { ModeOf, addPosteriorCommandTail, resolveDevices, DeviceFlags, OutputFlags } from '../common';
import { Log, OutputMode, emitResult, jsonReplacer, toCsv, writeFileAtomic } from '../output';
import { checkOutputPath, outputFormat, parseChoice, parseNameList, show } from '../options';
import { PredictInputs, SPLITS, SplitName, loadPredictInputs } from '../data';
import { withPosterior } from '../open-posterior';
import type * as Engine from '../engine';
import { engine } from '../lazy';
import { ConformalFlags, conformalColumns, parseConformalFlags, predictCalibrated } from '../uncertainty-report';

interface PredictFlags extends ConformalFlags, DeviceFlags, OutputFlags {
  uncalibrated?: boolean;
  checkpoint?: string;
  data?: string;
  modes?: string;
  split?: string;
  out?: string;
  force?: boolean;
}

export function registerPredict(program: Command, modeOf: ModeOf): void {
  const cmd = program
    .command('predict')
    .summary("a checkpoint's posterior predictive on data, as CSV or JSON")
    .description(
      "Predict with a checkpoint's particles and reduce them to the Bayesian model average's modes. " +
        'Regression modes: mean, median, min, max, std, pred (each member; gaussian-nll models also ' +
        'variance, aleatoric_var, epistemic_var: variances; std is the sqrt of variance). Classification modes: mean_prob, mode, std, entropy, ' +
        'expected_entropy, mutual_info, prob, logits. Values are in the data\'s original units. ' +
        'A csv: data spec is read as inputs (every row; the training input columns, others ignored); ' +
        'other specs give their held-out split unless --split says otherwise.',
    )
    .requiredOption('-c, --checkpoint <dir>', 'checkpoint directory written by push-ens train --out')
    .option('--data <spec>', "inputs: a data spec (default: the checkpoint's training data; required if that was a file)")
    .option('--modes <list>', 'comma-separated modes (default: mean,std for regression, mean_prob,mode for classification)')
    .option('--split <which>', 'test, train, val or all examples of a generated data set (default: test; csv files: every row)')
    .option('-o, --out <file>', 'write predictions to FILE.csv or FILE.json (default: CSV on stdout, or JSON with --json)')
    .option('--force', 'replace an existing --out file')
    .option('--conformal <alpha>', 'add conformal prediction sets (classification: set, set_size) or intervals (regression: lower, upper) at level 1 - alpha (needs push-ens calibrate)')
    .option('--conformal-method <m>', 'classification conformal sets: aps (randomised, Romano et al. 2020) or lac (default: aps)')
    .option('--uncalibrated', "ignore the checkpoint's calibration (temperature / variance scale) for the modes");
  addPosteriorCommandTail<PredictFlags>(cmd, 'predict', modeOf, runPredict);
}

export async function runPredict(flags: PredictFlags, mode: OutputMode): Promise<void> {
  const log = new Log(mode);
  const info = engine().readCheckpointInfo('--checkpoint', flags.checkpoint!);
  if (flags.modes !== undefined) engine().checkRenamedModes(flags.modes);
  const modes = flags.modes !== undefined ? parseNameList('--modes', flags.modes, engine().validModesFor(info), 'modes') : defaultModes(info);
  const split: SplitName | undefined = flags.split !== undefined ? parseChoice('--split', flags.split, SPLITS) : undefined;
  const format = flags.out !== undefined ? outputFormat('--out', flags.out, ['csv', 'json']) : mode.json ? 'json' : 'csv';
  const outFile = flags.out !== undefined ? checkOutputPath('--out', flags.out, { kind: 'file', overwrite: !!flags.force }) : undefined;
  if (flags.force && flags.out === undefined) throw new PushInputError('--force applies to --out FILE: there is no --out to replace');
  const conformal = parseConformalFlags(flags, info);
  const stored = engine().requireStoredData(info, flags.data);
  const inputs = loadPredictInputs(flags.data ?? stored.spec, stored, split);
  engine().checkInputsFit(flags.data ?? stored.spec, inputs.xShape, info);
  const devices = await resolveDevices(flags);
  log.debug(`checkpoint ${info.dir}: ${info.algo}, epoch ${info.epoch}/${info.epochs}, loss ${info.loss}, data ${JSON.stringify(stored)}`);

  log.info(`push-ens predict: ${info.algo}, ${info.particles} particles from ${flags.checkpoint} on ${devices.devices.join(',')}; ${inputs.description}`);
  const { pred, sets } = await withPosterior(info, devices, async (posterior) => ({
    pred: await predictCalibrated(posterior.posterior, inputs.x, inputs.xShape, modes, !!flags.uncalibrated),
    sets: conformal && (await conformalColumns(posterior.posterior, inputs.x, inputs.xShape, conformal, info.stored?.classNames)),
  }));

  const table = predictionColumns(inputs, pred, modes, info);
  if (sets) {
    table.header.push(...sets.header);
    table.rows.forEach((row, i) => row.push(...sets.cells(i)));
  }
  if (outFile) {
    const body = format === 'csv' ? toCsv(table.header, table.rows) : JSON.stringify({ ...predictionJson(flags, info, inputs, pred, modes), conformal: sets?.json }, jsonReplacer) + '\n';
    writeFileAtomic(outFile, body);
    emitResult(
      mode,
      { command: 'predict', checkpoint: flags.checkpoint, out: outFile, format, rows: inputs.xShape[0], modes, columns: table.header },
      () => `wrote ${inputs.xShape[0]} rows (${table.header.length} columns: ${table.header.slice(0, 8).join(', ')}${table.header.length > 8 ? ', ...' : ''}) to ${flags.out}`,
    );
  } else if (format === 'json') {
    emitResult(mode, { ...predictionJson(flags, info, inputs, pred, modes), conformal: sets?.json }, () => '');
  } else {
    process.stdout.write(toCsv(table.header, table.rows));
  }
}

function defaultModes(info: Engine.CheckpointInfo): string[] {
  return info.task === 'classification' ? ['mean_prob', 'mode'] : ['mean', 'std'];
}

function predictionJson(flags: PredictFlags, info: Engine.CheckpointInfo, inputs: PredictInputs, pred: Engine.Prediction, modes: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of modes) out[m] = { shape: pred[m].shape, data: nest(pred[m].data, pred[m].shape) };
  return {
    command: 'predict',
    checkpoint: flags.checkpoint,
    algo: info.algo,
    task: info.task,
    rows: inputs.xShape[0],
    classNames: info.stored?.classNames,
    modes: out,
  };
}

/** Row-major data as nested arrays of the given shape. */
export function nest(data: ArrayLike<number>, shape: number[]): unknown {
  if (shape.length <= 1) return Array.from(data);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  const out: unknown[] = [];
  for (let i = 0; i < shape[0]; i++) out.push(nest(Array.prototype.slice.call(data, i * inner, (i + 1) * inner) as number[], shape.slice(1)));
  return out;
}

const MAX_INPUT_COLUMNS = 10;

/** CSV columns: row, the inputs (when flat and few), then each mode's values. */
export function predictionColumns(inputs: PredictInputs, pred: Engine.Prediction, modes: string[], info: Engine.CheckpointInfo): { header: string[]; rows: (number | string)[][] } {
  const n = inputs.xShape[0];
  const featureCount = inputs.xShape.slice(1).reduce((a, b) => a * b, 1);
  const showInputs = inputs.xShape.length === 2 && featureCount <= MAX_INPUT_COLUMNS;
  const inputNames = showInputs ? Array.from({ length: featureCount }, (_, j) => inputs.featureNames?.[j] ?? (featureCount === 1 ? 'x' : `x${j}`)) : [];
  const header = ['row', ...inputNames];
  const getters: ((i: number) => number | string)[] = [];
  inputNames.forEach((_, j) => getters.push((i) => inputs.x[i * featureCount + j]));
  const classNames = info.stored?.classNames;
  for (const m of modes) {
    const { data, shape } = pred[m];
    if (shape[0] !== n) throw new PushInputError(`mode ${show(m)} returned ${shape[0]} rows for ${n} inputs`);
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    const names = columnNames(m, shape, info.task === 'classification' ? classNames : undefined);
    names.forEach((name, k) => {
      header.push(name);
      if (m === 'mode' && classNames) getters.push((i) => classNames[data[i * per + k]] ?? data[i * per + k]);
      else getters.push((i) => data[i * per + k]);
    });
  }
  const rows: (number | string)[][] = [];
  for (let i = 0; i < n; i++) rows.push([i, ...getters.map((g) => g(i))]);
  return { header, rows };
}

function columnNames(mode: string, shape: number[], classNames?: string[]): string[] {
  if (shape.length === 1) return [mode];
  if (shape.length === 2) {
    const k = shape[1];
    if (k === 1) return [mode];
    return Array.from({ length: k }, (_, j) => `${mode}_${classNames?.[j] ?? j}`);
  }
  // [N, members, out]
  const S = shape[1];
  const k = shape.slice(2).reduce((a, b) => a * b, 1);
  const names: string[] = [];
  for (let s = 0; s < S; s++) for (let j = 0; j < k; j++) names.push(k === 1 ? `${mode}_m${s}` : `${mode}_m${s}_${classNames?.[j] ?? j}`);
  return names;
}
