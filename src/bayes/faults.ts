// Non-finite losses during training, as the coordinator reports them: the
// events of the 'skip' and 'reinit' policies, and the error that ends a run
// under 'stop'. Epochs and steps are 1-based here, as users count them.

/** A particle whose update was skipped, or which was re-initialised, because its loss or gradient was NaN or infinite. */
export interface NanEvent {
  pid: number;
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  /** Steps in the epoch. */
  steps: number;
  /** NaN or ±Infinity; finite when only the gradient was not. */
  loss: number;
  action: 'skip' | 'reinit';
}

/** What a device reports for a non-finite step (0-based step, as the handler counts). */
export interface DeviceNanEvent {
  pid: number;
  step: number;
  loss: number;
  action: 'skip' | 'reinit';
}

function describeLoss(loss: number): string {
  return Number.isFinite(loss) ? `non-finite gradient (loss ${loss})` : `non-finite loss (${loss})`;
}

/** Training stopped (onNan 'stop') because a particle's loss or gradient was NaN or infinite; no particle took that step. */
export class NonFiniteTrainingError extends Error {
  override name = 'NonFiniteTrainingError';
  constructor(
    readonly pid: number,
    /** 1-based epoch and step, and the epoch's number of steps. */
    readonly epoch: number,
    readonly step: number,
    readonly steps: number,
    readonly loss: number,
  ) {
    super(`particle ${pid}: ${describeLoss(loss)} at epoch ${epoch}, step ${step} of ${steps}; training stopped (on-nan policy "stop")`);
  }
}
