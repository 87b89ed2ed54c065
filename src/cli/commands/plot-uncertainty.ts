// `push-ens plot --ood SPEC` (score histograms in against OOD, and ROC curves)
// and `plot --calibration` (regression: expected against observed coverage).
import { PushInputError } from '../../util/errors';
import { DeviceFlags, resolveDevices } from '../common';
import { Log, OutputMode, emitResult, writeFileAtomic } from '../output';
import { checkOutputPath, outputFormat, parseChoice } from '../options';
import { SPLITS, SplitName, loadSplit } from '../data';
import { renderSvg, svgToPng } from '../plot';
import { coverageSpec, oodSpec } from '../uncertainty-plots';
import { loadOodData } from '../uncertainty-report';
import { withPosterior } from '../open-posterior';
import { engine } from '../lazy';
import type * as UQ from '../../bayes/posterior-uncertainty';

export interface UncertaintyPlotFlags extends DeviceFlags {
  checkpoint?: string;
  data?: string;
  out?: string;
  force?: boolean;
  split?: string;
  title?: string;
  ood?: string;
  calibration?: boolean;
  points?: string;
  widen?: string;
  bins?: string;
}

export async function runUncertaintyPlot(flags: UncertaintyPlotFlags, mode: OutputMode): Promise<void> {
  const log = new Log(mode);
  if (flags.ood !== undefined && flags.calibration) throw new PushInputError('--ood and --calibration draw different plots: expected one of them');
  for (const [flag, v] of [['--points', flags.points], ['--widen', flags.widen], ['--bins', flags.bins]] as const) {
    if (v !== undefined) throw new PushInputError(`${flag} applies to the default plots, not to ${flags.ood !== undefined ? '--ood' : '--calibration'}`);
  }
  const info = engine().readCheckpointInfo('--checkpoint', flags.checkpoint!);
  if (flags.calibration && info.task !== 'regression') {
    throw new PushInputError('--calibration draws the regression calibration plot; for classification the default plot is the reliability diagram');
  }
  const format = outputFormat('--out', flags.out!, ['svg', 'png']);
  const outFile = checkOutputPath('--out', flags.out!, { kind: 'file', overwrite: !!flags.force });
  const which: SplitName = flags.split !== undefined ? parseChoice('--split', flags.split, SPLITS) : 'test';
  const stored = engine().requireStoredData(info, flags.data);
  const spec = flags.data ?? stored.spec;
  const { chosen } = loadSplit(spec, stored, which);
  engine().checkInputsFit(spec, chosen.xShape, info);
  const ood = flags.ood !== undefined ? loadOodData(flags.ood, info) : undefined;
  const devices = await resolveDevices(flags);
  log.info(`push-ens plot: ${info.algo}, ${info.particles} particles from ${flags.checkpoint}; ${chosen.xShape[0]} ${which} examples${ood ? ` against ${ood.xShape[0]} of ${ood.spec}` : ''}`);
  const U = require('../../bayes/posterior-uncertainty') as typeof UQ;
  let chart: Record<string, unknown>;
  let summary: Record<string, unknown>;
  if (ood) {
    const r = await withPosterior(info, devices, async (o) => U.evaluateOOD(o.posterior, chosen, { x: ood.x, xShape: ood.xShape }, { originalUnits: true, keepScores: true }));
    const scores = Object.keys(r.metrics).map((name) => {
      const k = name as keyof typeof r.metrics;
      return { name, in: r.scores!.in[k]!, out: r.scores!.out[k]!, auroc: r.metrics[k]!.auroc };
    });
    chart = oodSpec({ title: flags.title ?? `OOD detection: ${info.algo}, ${info.particles} particles`, scores, inName: `${spec} (${which})`, outName: `${ood.spec} (${ood.split})` });
    summary = { kind: 'ood', data: spec, split: which, ood: ood.spec, inExamples: r.inExamples, outExamples: r.outExamples, auroc: Object.fromEntries(scores.map((s) => [s.name, s.auroc])) };
  } else {
    const cal = info.info.calibration;
    const report = await withPosterior(info, devices, async (o) => {
      const s = await U.predictiveSummary(o.posterior, chosen, { originalUnits: true });
      return U.calibrationReportFromSummary(s, U.summaryTargets(o.posterior, s, chosen.y), cal);
    });
    const c = report.coverageCurve!;
    chart = coverageSpec({ title: flags.title ?? `${spec}: ${info.algo}, ${info.particles} particles (${which} split)`, ...c, scale: cal?.varianceScale, examples: chosen.xShape[0] });
    summary = { kind: 'calibration', split: which, examples: chosen.xShape[0], varianceScale: cal?.varianceScale ?? null, coverage: c };
  }
  const svg = await renderSvg(chart);
  writeFileAtomic(outFile, format === 'png' ? svgToPng(svg) : svg);
  emitResult(mode, { command: 'plot', checkpoint: flags.checkpoint, out: outFile, format, ...summary }, () => `wrote ${flags.out}`);
}
