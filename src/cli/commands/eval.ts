// `push-ens eval`: the metrics of a checkpoint's BMA and of each particle on
// data (by default the held-out split of its training data).
import { Command } from 'commander';
import { ModeOf, addPosteriorCommandTail, resolveDevices, DeviceFlags, OutputFlags } from '../common';
import { Log, OutputMode, emitResult } from '../output';
import { parseChoice } from '../options';
import { SPLITS, SplitName, loadSplit } from '../data';
import { withPosterior } from '../open-posterior';
import type * as Engine from '../engine';
import { engine } from '../lazy';
import { metricsTable } from './train';
import { ConformalFlags, evalUncertainty, loadOodData, parseConformalFlags } from '../uncertainty-report';

interface EvalFlags extends ConformalFlags, DeviceFlags, OutputFlags {
  ood?: string;
  checkpoint?: string;
  data?: string;
  split?: string;
}

export function registerEval(program: Command, modeOf: ModeOf): void {
  const cmd = program
    .command('eval')
    .summary("a checkpoint's metrics: the BMA's and each particle's")
    .description(
      "Evaluate a checkpoint: the Bayesian model average's metrics next to each particle's. " +
        'Regression: rmse and nll (Gaussian NLL of the predictive); classification: accuracy, nll, ' +
        'ece (15 bins) and brier. In the data\'s original units.',
    )
    .requiredOption('-c, --checkpoint <dir>', 'checkpoint directory written by push-ens train --out')
    .option('--data <spec>', "data to evaluate on, with targets (default: the checkpoint's training data; required if that was a file)")
    .option('--split <which>', 'test, train, val or all (default: test, the split held out in training)')
    .option('--ood <spec>', 'also score OOD detection of this data (its test split) against the evaluated split: AUROC, AUPR, FPR@95%TPR per uncertainty score, and selective prediction')
    .option('--conformal <alpha>', 'also report the empirical coverage and set size / interval width of conformal sets at level 1 - alpha (needs push-ens calibrate)')
    .option('--conformal-method <m>', 'classification conformal sets: aps (randomised, Romano et al. 2020) or lac (default: aps)');
  addPosteriorCommandTail<EvalFlags>(cmd, 'evaluate', modeOf, runEval);
}

export async function runEval(flags: EvalFlags, mode: OutputMode): Promise<void> {
  const log = new Log(mode);
  const info = engine().readCheckpointInfo('--checkpoint', flags.checkpoint!);
  const which: SplitName = flags.split !== undefined ? parseChoice('--split', flags.split, SPLITS) : 'test';
  const conformal = parseConformalFlags(flags, info);
  const stored = engine().requireStoredData(info, flags.data);
  const spec = flags.data ?? stored.spec;
  const { chosen } = loadSplit(spec, stored, which);
  engine().checkInputsFit(spec, chosen.xShape, info);
  const uq = { conformal, ood: flags.ood !== undefined ? loadOodData(flags.ood, info) : undefined };
  const devices = await resolveDevices(flags);
  log.debug(`checkpoint ${info.dir}: ${info.algo}, epoch ${info.epoch}/${info.epochs}, loss ${info.loss}, data ${JSON.stringify(stored)}`);
  log.info(`push-ens eval: ${info.algo}, ${info.particles} particles from ${flags.checkpoint} on ${devices.devices.join(',')}; ${spec} (${which} split): ${chosen.xShape[0]} examples`);

  const { metrics, extra } = await withPosterior(info, devices, async (posterior) => ({
    metrics: (await posterior.evaluate(chosen, which)) as Engine.MetricsTable,
    extra: await evalUncertainty(posterior.posterior, chosen, uq),
  }));
  emitResult(
    mode,
    { command: 'eval', checkpoint: flags.checkpoint, algo: info.algo, task: info.task, data: spec, split: which, examples: chosen.xShape[0], metrics, ...extra?.json },
    () => metricsTable(metrics) + (extra ? `\n\n${extra.text}` : ''),
  );
}
