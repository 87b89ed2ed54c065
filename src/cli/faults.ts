// How `push-ens train` reports faults: skipped or re-initialised particles
// (--on-nan), restarted workers (--restart-workers), and runtime failures
// (a dead worker, a timeout, a NaN stop) with what the checkpoint offers next.
// Loaded at start-up, so nothing here imports src/bayes or TensorFlow.js.
import type { NanEvent } from '../bayes/faults';
import type { WorkerRestartReport } from '../bayes/train-options';

/** At most this many NaN events go into --json output (a diverged particle under skip has one per step). */
export const MAX_NAN_EVENTS_IN_JSON = 1000;

const MAX_PARTICLES_LISTED = 8;

/** One line per epoch with NaN events: `epoch 3/10: non-finite loss: skipped the update of particle 1 (steps 2, 5) (--on-nan skip)`. */
export function nanEpochNote(policy: string, epoch: number, epochs: number, events: readonly NanEvent[]): string {
  const steps = new Map<number, number[]>();
  for (const e of events) steps.set(e.pid, [...(steps.get(e.pid) ?? []), e.step]);
  const listed = [...steps].slice(0, MAX_PARTICLES_LISTED).map(([pid, s]) => {
    const where = s.length <= 3 ? `step${s.length > 1 ? 's' : ''} ${s.join(', ')}` : `${s.length} steps`;
    return `particle ${pid} (${where})`;
  });
  const more = steps.size > MAX_PARTICLES_LISTED ? `, and ${steps.size - MAX_PARTICLES_LISTED} more particles` : '';
  const verb = policy === 'reinit' ? 're-initialised' : 'skipped the update of';
  return `epoch ${epoch}/${epochs}: non-finite loss: ${verb} ${listed.join(', ')}${more} (--on-nan ${policy})`;
}

export function restartNote(r: WorkerRestartReport, limit: number): string {
  const back = r.epoch === 0 ? 'the start of the run' : `the checkpoint at epoch ${r.epoch}`;
  return `device ${r.device} worker died (${r.reason}); restarted it (restart ${r.restart} of ${limit}) and took every particle back to ${back}`;
}

/** Failures of a running training job (not bad input): their message gains what the checkpoint offers. */
const RUNTIME_FAILURES = new Set(['PushWorkerError', 'PushTimeoutError', 'NonFiniteTrainingError']);

/** The error with `; <hint>` appended (still one line, exit 1), or the error itself when it is of another kind. */
export function withCheckpointHint(err: unknown, hint: () => string): unknown {
  if (!(err instanceof Error) || !RUNTIME_FAILURES.has(err.name)) return err;
  const text = hint();
  const more = err.name === 'NonFiniteTrainingError' && text.includes('--resume') ? ' (with --on-nan skip or reinit to go past the step)' : '';
  const wrapped = new Error(`${err.message}; ${text}${more}`);
  wrapped.name = err.name;
  wrapped.stack = err.stack;
  return wrapped;
}
