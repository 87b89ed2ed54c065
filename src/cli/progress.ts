// Training progress on stderr: a one-line bar redrawn in place on a TTY (steps
// of the epoch, running loss, particle-steps/s and ETA, refreshed every second
// between the devices' reports), plain log lines per epoch otherwise (plus a
// mid-epoch line every lineEveryMs with --verbose), nothing with --quiet or --json.

import type { TrainProgress } from '../bayes/progress';

export type ProgressStyle = 'bar' | 'lines' | 'none';

export interface EpochProgress {
  /** 1-based epoch just finished. */
  epoch: number;
  epochs: number;
  /** Mean training loss over particles (and batches) of this epoch. */
  loss: number;
  /** Particle-steps per second over this epoch. */
  particleStepsPerSecond: number;
  /** Extra words, e.g. "swag" for MultiSWAG's collecting epochs. */
  phase?: string;
}

/** Progress within an epoch: src/bayes's report, plus the phase. */
export interface StepProgress extends TrainProgress {
  phase?: string;
}

interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Bar redraw period (ETA and elapsed move between reports). Default 1000 ms. */
  refreshMs?: number;
  /** 'lines' style: a mid-epoch line at most this often; 0 (default): none. */
  lineEveryMs?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

export function chooseProgressStyle(opts: { json: boolean; quiet: boolean }, stream: Stream = process.stderr): ProgressStyle {
  if (opts.json || opts.quiet) return 'none';
  return stream.isTTY ? 'bar' : 'lines';
}

function lossText(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

/** `42s`, `1m12s`, `2h05m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const rateText = (r: number) => `${Math.round(r)} particle-steps/s`;

/** `epoch  3/10  loss 0.912  1234 particle-steps/s` */
export function epochLine(p: EpochProgress): string {
  const width = String(p.epochs).length;
  const phase = p.phase ? `  ${p.phase}` : '';
  return `epoch ${String(p.epoch).padStart(width)}/${p.epochs}  loss ${lossText(p.loss)}  ${rateText(p.particleStepsPerSecond)}${phase}`;
}

/** What one bar line shows. */
export interface BarView {
  epoch: number;
  epochs: number;
  /** Of the whole run, in [0, 1]. */
  fraction: number;
  steps?: { done: number; total: number };
  loss?: number;
  rate?: number;
  etaSeconds?: number;
  phase?: string;
}

/** `epoch 2/3 [####------] 120/469 steps  loss 0.4312  812 particle-steps/s  ETA 1m12s`, never wider than cols - 1. */
export function renderBar(v: BarView, cols: number): string {
  const width = String(v.epochs).length;
  const head = `epoch ${String(v.epoch).padStart(width)}/${v.epochs} `;
  const parts: string[] = [];
  if (v.steps) parts.push(`${String(v.steps.done).padStart(String(v.steps.total).length)}/${v.steps.total} steps`);
  if (v.loss !== undefined) parts.push(`loss ${lossText(v.loss)}`);
  if (v.rate !== undefined && v.rate > 0) parts.push(rateText(v.rate));
  if (v.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(v.etaSeconds)}`);
  if (v.phase) parts.push(v.phase);
  // Too wide even with the narrowest bar: the phase goes first, then the loss.
  const fits = () => head.length + 6 + 1 + parts.join('  ').length <= cols - 1;
  if (!fits() && v.phase) parts.pop();
  if (!fits() && v.loss !== undefined) parts.splice(v.steps ? 1 : 0, 1);
  const right = parts.length ? ` ${parts.join('  ')}` : '';
  // The words matter more than the bar: it narrows (down to 4) before they are cut.
  const barWidth = Math.max(4, Math.min(40, cols - 1 - head.length - right.length - 2));
  const filled = Math.round(barWidth * Math.min(1, Math.max(0, v.fraction)));
  const bar = '[' + '#'.repeat(filled) + '-'.repeat(barWidth - filled) + ']';
  // Never wider than the terminal: a wrapped line could not be redrawn in place.
  return `${head}${bar}${right}`.slice(0, cols - 1);
}

/** Work left and the rate it goes at, as of time `at` (ms). */
interface Estimate {
  remaining: number;
  rate: number;
  at: number;
}

export class Progress {
  private drawn = false;
  private epochs = 0;
  private view?: BarView;
  private estimate?: Estimate;
  private particleStepsPerEpoch = 0;
  private timer?: NodeJS.Timeout;
  private lastLine = -Infinity;
  private readonly now: () => number;

  constructor(
    readonly style: ProgressStyle,
    private readonly stream: Stream = process.stderr,
    private readonly opts: ProgressOptions = {},
  ) {
    this.now = opts.now ?? (() => Date.now());
  }

  /** Called before the first epoch (startEpoch > 0 when resuming). */
  start(epochs: number, startEpoch = 0): void {
    this.epochs = epochs;
    if (this.style !== 'bar') return;
    this.view = { epoch: Math.min(startEpoch + 1, epochs), epochs, fraction: startEpoch / Math.max(epochs, 1) };
    this.redraw();
    if (!this.timer) {
      this.timer = setInterval(() => this.redraw(), this.opts.refreshMs ?? 1000);
      this.timer.unref();
    }
  }

  /** A report from within an epoch. */
  step(p: StepProgress): void {
    if (this.style === 'none') return;
    this.epochs = p.epochs;
    this.particleStepsPerEpoch = p.particleStepsTotal;
    const rate = p.seconds > 0 && p.particleStepsDone > 0 ? p.particleStepsDone / p.seconds : this.estimate?.rate ?? 0;
    const remaining = p.particleStepsTotal - p.particleStepsDone + (p.epochs - p.epoch) * p.particleStepsTotal;
    this.estimate = { remaining, rate, at: this.now() };
    const fraction = (p.epoch - 1 + p.stepsDone / Math.max(p.stepsTotal, 1)) / Math.max(p.epochs, 1);
    this.view = { epoch: p.epoch, epochs: p.epochs, fraction, steps: { done: p.stepsDone, total: p.stepsTotal }, loss: p.loss, rate, phase: p.phase };
    if (this.style === 'bar') this.redraw();
    else if (this.opts.lineEveryMs && this.now() - this.lastLine >= this.opts.lineEveryMs && p.stepsDone < p.stepsTotal) {
      this.lastLine = this.now();
      this.stream.write(renderLine(this.view, this.eta()) + '\n');
    }
  }

  epoch(p: EpochProgress): void {
    if (this.style === 'lines') this.stream.write(epochLine(p) + '\n');
    if (this.style !== 'bar') return;
    const total = this.view?.steps?.total;
    const remaining = (p.epochs - p.epoch) * this.particleStepsPerEpoch;
    this.estimate = this.particleStepsPerEpoch > 0 ? { remaining, rate: p.particleStepsPerSecond, at: this.now() } : undefined;
    this.view = {
      epoch: p.epoch,
      epochs: p.epochs,
      fraction: p.epoch / Math.max(p.epochs, 1),
      steps: total !== undefined ? { done: total, total } : undefined,
      loss: p.loss,
      rate: p.particleStepsPerSecond,
      phase: p.phase,
    };
    this.redraw();
  }

  /** A line that must not be overdrawn by the bar (e.g. "checkpoint written"). */
  note(line: string): void {
    if (this.style === 'none') return;
    if (this.style === 'bar' && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(line + '\n');
    this.drawn = false;
  }

  /** Stops the refresh and ends the bar's line so later output starts on a fresh one. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.view = undefined;
    if (this.style === 'bar' && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  /** Seconds left in the run, counting down between reports; undefined before any rate is known. */
  private eta(): number | undefined {
    const e = this.estimate;
    if (!e || !(e.rate > 0)) return undefined;
    return Math.max(0, e.remaining / e.rate - (this.now() - e.at) / 1000);
  }

  private redraw(): void {
    if (!this.view) return;
    const cols = this.stream.columns && this.stream.columns > 0 ? this.stream.columns : 80;
    this.stream.write(`\r\x1b[2K${renderBar({ ...this.view, etaSeconds: this.eta() }, cols)}`);
    this.drawn = true;
  }
}

/** The 'lines' style's mid-epoch line: the bar's words without the bar. */
function renderLine(v: BarView, eta: number | undefined): string {
  const parts = [`epoch ${String(v.epoch).padStart(String(v.epochs).length)}/${v.epochs}`];
  if (v.steps) parts.push(`${v.steps.done}/${v.steps.total} steps`);
  if (v.loss !== undefined) parts.push(`loss ${lossText(v.loss)}`);
  if (v.rate) parts.push(rateText(v.rate));
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  if (v.phase) parts.push(v.phase);
  return parts.join('  ');
}
