// Training progress on stderr: a one-line bar redrawn in place on a TTY, plain
// log lines per epoch otherwise, nothing with --quiet or --json.

export type ProgressStyle = 'bar' | 'lines' | 'none';

export interface EpochProgress {
  /** 1-based epoch just finished. */
  epoch: number;
  epochs: number;
  /** Mean training loss over particles (and batches) of this epoch. */
  loss: number;
  /** Particle-steps per second over this epoch. */
  stepsPerSecond: number;
  /** Extra words, e.g. "swag" for MultiSWAG's collecting epochs. */
  phase?: string;
}

interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
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

/** `epoch 3/10  loss 0.912  1234 steps/s` */
export function epochLine(p: EpochProgress): string {
  const width = String(p.epochs).length;
  const phase = p.phase ? `  ${p.phase}` : '';
  return `epoch ${String(p.epoch).padStart(width)}/${p.epochs}  loss ${lossText(p.loss)}  ${Math.round(p.stepsPerSecond)} steps/s${phase}`;
}

export class Progress {
  private drawn = false;
  private readonly started = Date.now();

  constructor(
    readonly style: ProgressStyle,
    private readonly stream: Stream = process.stderr,
  ) {}

  /** Called before the first epoch (startEpoch > 0 when resuming). */
  start(epochs: number, startEpoch = 0): void {
    if (this.style === 'bar') this.drawBar(startEpoch, epochs, '');
  }

  epoch(p: EpochProgress): void {
    if (this.style === 'lines') this.stream.write(epochLine(p) + '\n');
    else if (this.style === 'bar') {
      const phase = p.phase ? ` ${p.phase}` : '';
      this.drawBar(p.epoch, p.epochs, `loss ${lossText(p.loss)}  ${Math.round(p.stepsPerSecond)} steps/s${phase}`);
    }
  }

  /** A line that must not be overdrawn by the bar (e.g. "checkpoint written"). */
  note(line: string): void {
    if (this.style === 'none') return;
    if (this.style === 'bar' && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(line + '\n');
    this.drawn = false;
  }

  /** Ends the bar's line so later output starts on a fresh one. */
  finish(): void {
    if (this.style === 'bar' && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  private drawBar(done: number, total: number, tail: string): void {
    const cols = this.stream.columns && this.stream.columns > 0 ? this.stream.columns : 80;
    const head = `epoch ${String(done).padStart(String(total).length)}/${total} `;
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = done > 0 && done < total ? `  eta ${Math.ceil((elapsed / done) * (total - done))}s` : '';
    const right = tail === '' ? '' : ` ${tail}${eta}`;
    const barWidth = Math.max(10, Math.min(40, cols - 1 - head.length - right.length - 2));
    const filled = Math.round((barWidth * done) / Math.max(total, 1));
    const bar = '[' + '#'.repeat(filled) + '-'.repeat(barWidth - filled) + ']';
    // Never wider than the terminal: a wrapped line could not be redrawn in place.
    const line = `${head}${bar}${right}`.slice(0, cols - 1);
    this.stream.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }
}
