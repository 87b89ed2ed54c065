// `push-ens plot`: for 1-D regression, the data, each particle's curve, the
// BMA mean and a +-2 std band over a range wider than the data; for
// classification, a reliability diagram with the ECE. SVG, or PNG.
import { Command } from 'commander';
import { PushInputError } from '../../util/errors';
import { reliabilityBins, ece as eceOf, accuracy as accuracyOf, DEFAULT_ECE_BINS } from '../../bayes/metrics';
import { DeviceChoice, ModeOf, addPosteriorCommandTail, resolveDevices, DeviceFlags, OutputFlags } from '../common';
import { Log, OutputMode, emitResult, writeFileAtomic } from '../output';
import { checkOutputPath, outputFormat, parseChoice, parseInteger, parseNumber, show } from '../options';
import { SPLITS, SplitName, loadSplit } from '../data';
import { regressionSpec, reliabilitySpec, renderSvg, svgToPng, widenedGrid } from '../plot';
import { withPosterior } from '../open-posterior';
import type * as Engine from '../engine';
import { engine } from '../lazy';
import { runUncertaintyPlot } from './plot-uncertainty';

interface PlotFlags extends DeviceFlags, OutputFlags {
  checkpoint?: string;
  data?: string;
  out?: string;
  force?: boolean;
  split?: string;
  points?: string;
  widen?: string;
  bins?: string;
  title?: string;
  ood?: string;
  calibration?: boolean;
}

export function registerPlot(program: Command, modeOf: ModeOf): void {
  const cmd = program
    .command('plot')
    .summary('plot a checkpoint: 1-D regression band, or reliability diagram')
    .description(
      'Plot a checkpoint. 1-D regression (one input, one target): the data, each particle\'s curve, ' +
        'the BMA mean and a +-2 std band over a range wider than the data. Classification: a ' +
        'reliability diagram (accuracy against confidence, 15 bins) of the BMA with its ECE.',
    )
    .requiredOption('-c, --checkpoint <dir>', 'checkpoint directory written by push-ens train --out')
    .requiredOption('-o, --out <file>', 'FILE.svg, or FILE.png (needs the optional package @resvg/resvg-js)')
    .option('--data <spec>', "data to plot (default: the checkpoint's training data; required if that was a file)")
    .option('--split <which>', 'test, train, val or all examples (classification diagram, --ood, --calibration; default: test)')
    .option('--points <n>', 'regression: grid points of the curves (default: 200)')
    .option('--widen <f>', 'regression: extend the x range by this fraction of it on each side (default: 0.5)')
    .option('--bins <n>', `classification: confidence bins (default: ${DEFAULT_ECE_BINS})`)
    .option('--title <text>', 'chart title')
    .option('--ood <spec>', 'instead: OOD detection of this data (its test split) against --split: histograms of each uncertainty score, in against OOD, and ROC curves')
    .option('--calibration', 'instead (regression): the calibration plot, expected against observed coverage of central intervals, before and after push-ens calibrate')
    .option('--force', 'replace an existing --out file');
  addPosteriorCommandTail<PlotFlags>(cmd, 'predict', modeOf, runPlot);
}

export async function runPlot(flags: PlotFlags, mode: OutputMode): Promise<void> {
  if (flags.ood !== undefined || flags.calibration) return runUncertaintyPlot(flags, mode);
  const log = new Log(mode);
  const info = engine().readCheckpointInfo('--checkpoint', flags.checkpoint!);
  const format = outputFormat('--out', flags.out!, ['svg', 'png']);
  const outFile = checkOutputPath('--out', flags.out!, { kind: 'file', overwrite: !!flags.force });
  const points = flags.points !== undefined ? parseInteger('--points', flags.points, 2, 100000) : 200;
  const widen = flags.widen !== undefined ? parseNumber('--widen', flags.widen, { min: 0, max: 100 }) : 0.5;
  const bins = flags.bins !== undefined ? parseInteger('--bins', flags.bins, 1, 1000) : DEFAULT_ECE_BINS;
  const which: SplitName = flags.split !== undefined ? parseChoice('--split', flags.split, SPLITS) : 'test';
  const stored = engine().requireStoredData(info, flags.data);
  const spec = flags.data ?? stored.spec;
  const title = flags.title ?? `${spec}: ${info.algo}, ${info.particles} particles`;

  let chart: Record<string, unknown>;
  let summary: Record<string, unknown>;
  if (info.task === 'regression') {
    if (flags.split !== undefined) throw new PushInputError('--split applies to classification plots; a regression plot shows the train and test data');
    if (flags.bins !== undefined) throw new PushInputError('--bins applies to classification plots (reliability diagrams)');
    const { train, test } = loadSplit(spec, stored, 'all');
    const features = train.xShape.slice(1).reduce((a, b) => a * b, 1);
    const targets = train.yShape.slice(1).reduce((a, b) => a * b, 1);
    if (features !== 1 || targets !== 1) {
      throw new PushInputError(
        `plot draws 1-D regression (one input, one target), but ${show(spec)} has ${features} inputs and ${targets} target(s): expected data such as toy, sine or a csv with one input column`,
      );
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (const ds of [train, test]) if (ds) for (const v of ds.x) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    const grid = widenedGrid(lo, hi, points, widen);
    const devices = await resolveDevices(flags);
    log.info(`push-ens plot: ${info.algo}, ${info.particles} particles from ${flags.checkpoint}; ${points} points on [${grid[0].toFixed(3)}, ${grid[points - 1].toFixed(3)}]`);
    const pred = await withPosterior(info, devices, (p) => p.predict(grid, [points, 1], ['mean', 'std', 'pred']));
    // One curve per particle: with several members per particle (weight samples, dropout passes), the
    // members of particle k are k*per .. (k+1)*per-1, and its curve is their mean.
    const S = pred.pred.shape[1];
    // gaussian-nll members output [mean, raw variance]: the curve is the mean, column 0.
    const out = pred.pred.shape[2] ?? 1;
    const P = info.particles;
    const per = S % P === 0 ? S / P : 1;
    const curves = per === 1 ? S : P;
    const members = Array.from({ length: curves }, (_, k) =>
      Float32Array.from({ length: points }, (_, i) => {
        let sum = 0;
        for (let j = 0; j < per; j++) sum += pred.pred.data[(i * S + k * per + j) * out];
        return sum / per;
      }),
    );
    chart = regressionSpec({
      title,
      xName: train.featureNames?.[0] ?? 'x',
      yName: train.targetName ?? 'y',
      train: { x: train.x, y: train.y },
      test: test && { x: test.x, y: test.y },
      grid,
      mean: pred.mean.data,
      std: pred.std.data,
      members,
      memberLabel: per === 1 ? 'particle' : `particle (mean of ${per} ${engine().memberNameOf(info)})`,
    });
    summary = { kind: 'regression', points, range: [grid[0], grid[points - 1]], members: S, curves };
  } else {
    if (flags.points !== undefined || flags.widen !== undefined) throw new PushInputError(`${flags.points !== undefined ? '--points' : '--widen'} applies to 1-D regression plots, not classification`);
    const { chosen } = loadSplit(spec, stored, which);
    engine().checkInputsFit(spec, chosen.xShape, info);
    const devices = await resolveDevices(flags);
    log.info(`push-ens plot: ${info.algo}, ${info.particles} particles from ${flags.checkpoint}; reliability on ${chosen.xShape[0]} ${which} examples`);
    const pred = await withPosterior(info, devices, (p) => p.predict(chosen.x, chosen.xShape, ['mean_prob']));
    const probs = pred.mean_prob.data;
    const C = pred.mean_prob.shape[1];
    const labels = chosen.y;
    const ece = eceOf(probs, C, labels, bins);
    const accuracy = accuracyOf(probs, C, labels);
    chart = reliabilitySpec({ title, bins: reliabilityBins(probs, C, labels, bins), classes: C, ece, accuracy, examples: chosen.xShape[0] });
    summary = { kind: 'reliability', split: which, examples: chosen.xShape[0], bins, ece, accuracy };
  }
  const svg = await renderSvg(chart);
  writeFileAtomic(outFile, format === 'png' ? svgToPng(svg) : svg);
  emitResult(mode, { command: 'plot', checkpoint: flags.checkpoint, out: outFile, format, ...summary }, () => `wrote ${flags.out}`);
}

