// `push-ens calibrate`: fits the BMA's temperature (classification) or variance
// scale (regression) and the conformal scores on held-out data, and stores them
// in the checkpoint, which predict and eval then apply.
import { Command } from 'commander';
import { PushInputError } from '../../util/errors';
import { ModeOf, addPosteriorCommandTail, resolveDevices, DeviceFlags, OutputFlags } from '../common';
import { Log, OutputMode, emitResult, fmt } from '../output';
import { show } from '../options';
import { loadSplit } from '../data';
import { withPosterior } from '../open-posterior';
import { engine } from '../lazy';
import { calibrationText } from '../uncertainty-report';
import type * as UQ from '../../bayes/posterior-uncertainty';

interface CalibrateFlags extends DeviceFlags, OutputFlags {
  checkpoint?: string;
  data?: string;
}

export function registerCalibrate(program: Command, modeOf: ModeOf): void {
  const cmd = program
    .command('calibrate')
    .summary('fit a temperature / variance scale and conformal scores on held-out data; store them in the checkpoint')
    .description(
      "Calibrate a checkpoint on held-out data: by default its validation split (train --val-fraction F), never the training or test " +
        'split. Half of the examples (a seeded choice) fit one temperature for the BMA (classification: p ∝ p̄^(1/T)) or one ' +
        'factor for every predictive variance (regression), by minimising the NLL; the other half give the conformal scores ' +
        'of the calibrated model, so that predict/eval --conformal ALPHA work for any ALPHA. The result is stored in the ' +
        "checkpoint (a new generation, under its lock); predict and eval apply it. A later calibrate replaces it; resuming training drops it.",
    )
    .requiredOption('-c, --checkpoint <dir>', 'checkpoint directory written by push-ens train --out')
    .option(
      '--data <spec>',
      "labelled held-out data instead of the validation split: all of its examples are used, so it must hold none of the checkpoint's training or test examples (the checkpoint's own data spec means its validation split)",
    );
  addPosteriorCommandTail<CalibrateFlags>(cmd, 'predict', modeOf, runCalibrate);
}

export async function runCalibrate(flags: CalibrateFlags, mode: OutputMode): Promise<void> {
  const log = new Log(mode);
  const dir = flags.checkpoint!;
  const info = engine().readCheckpointInfo('--checkpoint', dir);
  if (info.loss === 'bce') throw new PushInputError('calibrate does not support bce models: for binary classification use cross-entropy with 2 outputs');
  const stored = engine().requireStoredData(info, flags.data);
  const own = flags.data === undefined || flags.data.trim() === stored.spec.trim();
  let source: string;
  let data;
  if (own) {
    if (!stored.valFraction) {
      throw new PushInputError(
        `checkpoint ${show(dir)} has no validation split to calibrate on: train with --val-fraction F (e.g. 0.1), or give --data SPEC with labelled held-out examples`,
      );
    }
    data = loadSplit(stored.spec, stored, 'val').chosen;
    source = `val split of ${stored.spec}`;
  } else {
    data = loadSplit(flags.data!, stored, 'all').chosen;
    source = flags.data!;
  }
  engine().checkInputsFit(own ? stored.spec : flags.data!, data.xShape, info);
  const devices = await resolveDevices(flags);
  // Held from the first read to the write: no training run replaces the particles in between.
  const lock = engine().lockCheckpoint(dir);
  try {
    log.info(`push-ens calibrate: ${info.algo}, ${info.particles} particles from ${dir}; ${source}: ${data.xShape[0]} examples`);
    const { calibration, report } = await withPosterior(info, devices, async (o) => {
      const U = require('../../bayes/posterior-uncertainty') as typeof UQ;
      const p = o.posterior;
      const s = await U.predictiveSummary(p, data, { originalUnits: true });
      const y = U.summaryTargets(p, s, data.y);
      const cal = U.calibrationFromSummary(s, y, { source, seed: stored.seed });
      return { calibration: cal, report: U.calibrationReportFromSummary(s, y, cal) };
    });
    engine().storeCalibration(dir, calibration);
    const fitted = calibration.temperature !== undefined ? `temperature ${fmt(calibration.temperature)}` : `variance scale ${fmt(calibration.varianceScale)}`;
    emitResult(
      mode,
      { command: 'calibrate', checkpoint: dir, ...calibration, conformal: undefined, report },
      () =>
        `${fitted} fitted on ${calibration.fitExamples} of ${data.xShape[0]} examples (${source}): NLL ${fmt(calibration.fit.nllBefore)} -> ${fmt(calibration.fit.nllAfter)}${calibration.fit.atBound ? ' (at the end of the search range)' : ''}; ` +
        `conformal scores of the other ${calibration.conformalExamples} stored in ${dir}\n` +
        calibrationText(report).replace(/^calibration on (\d+) examples/, `on all ${data.xShape[0]} calibration examples (in-sample)`),
    );
  } finally {
    lock.release();
  }
}
