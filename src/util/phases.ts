// Where a training run's time went, from process start: module loading, worker
// start-up, data transfer, training, evaluation and checkpoints. A PhaseClock
// charges the time since its previous lap to the named phase, so phases that
// recur (training and checkpoints alternate) add up.

export type PhaseName = 'load' | 'workersReady' | 'dataSent' | 'training' | 'evaluation' | 'checkpoint';
export const PHASES: readonly PhaseName[] = ['load', 'workersReady', 'dataSent', 'training', 'evaluation', 'checkpoint'];

/** Milliseconds per phase, and when (ms after process start) the first training round was sent. */
export type PhaseReport = Record<PhaseName, number> & { firstStepAtMs: number | null; totalMs: number };

export class PhaseClock {
  private readonly totals = new Map<PhaseName, number>(PHASES.map((p) => [p, 0]));
  private last: number;
  private firstStep: number | null = null;

  /** `startMs` on performance.now()'s scale; 0 is process start (performance.timeOrigin). */
  constructor(startMs = 0) {
    this.last = startMs;
  }

  /** Charges the time since the previous lap to `phase`. */
  lap(phase: PhaseName): void {
    const now = performance.now();
    this.totals.set(phase, this.totals.get(phase)! + (now - this.last));
    this.last = now;
  }

  /** Marks the moment the first training round leaves the coordinator (only the first call counts). */
  firstStepSent(): void {
    this.firstStep ??= performance.now();
  }

  report(): PhaseReport {
    const out = Object.fromEntries(PHASES.map((p) => [p, round(this.totals.get(p)!)])) as Record<PhaseName, number>;
    return { ...out, firstStepAtMs: this.firstStep === null ? null : round(this.firstStep), totalMs: round(this.last) };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** One line for --verbose: `load 512 ms, workers ready 301 ms, ...`. */
export function formatPhases(r: PhaseReport): string {
  const label: Record<PhaseName, string> = {
    load: 'load',
    workersReady: 'workers ready',
    dataSent: 'data sent',
    training: 'training',
    evaluation: 'evaluation',
    checkpoint: 'checkpoint',
  };
  const parts = PHASES.map((p) => `${label[p]} ${Math.round(r[p])} ms`);
  const first = r.firstStepAtMs === null ? 'no step taken' : `first step sent at ${Math.round(r.firstStepAtMs)} ms`;
  return `phases: ${parts.join(', ')} (${first}; ${Math.round(r.totalMs)} ms since process start)`;
}
