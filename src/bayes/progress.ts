// Progress within an epoch. Devices report the steps they have taken and the
// running loss sum with p.emit, throttled (at least PROGRESS_INTERVAL_MS apart,
// plus one at the end of the epoch), never once per step; the coordinator adds
// the devices up and calls the run's onProgress. SVGD, whose steps the
// coordinator drives, reports from the coordinator with the same throttle.
import type { Particle } from '../runtime/particle';
import type { ParticleCluster } from './cluster';

/** Name of the device -> coordinator progress event. */
export const PROGRESS_EVENT = 'bayes.progress';
/** Least time between two progress reports of one device. */
export const PROGRESS_INTERVAL_MS = 250;

/** One device's progress through one epoch (the body of a PROGRESS_EVENT). */
export interface DeviceProgress {
  /** 0-based epoch. */
  epoch: number;
  stepsDone: number;
  stepsTotal: number;
  /** Particles this device steps (each step is that many particle-steps). */
  particles: number;
  /** Sum and count of the particle losses of this epoch so far. */
  lossSum: number;
  lossCount: number;
}

/** The run's progress through the current epoch, summed over devices (what onProgress receives). */
export interface TrainProgress {
  /** 1-based epoch in progress. */
  epoch: number;
  epochs: number;
  /** Steps of this epoch done (particle-steps done / particles, rounded down). */
  stepsDone: number;
  stepsTotal: number;
  particleStepsDone: number;
  particleStepsTotal: number;
  /** Mean particle loss of this epoch so far (NaN before the first finite loss). */
  loss: number;
  /** Seconds since the epoch started. */
  seconds: number;
}

/** True at most once per `intervalMs` (the first call included). */
export class Throttle {
  private last = -Infinity;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  due(): boolean {
    const t = this.now();
    if (t - this.last < this.intervalMs) return false;
    this.last = t;
    return true;
  }
}

/** Device side: counts the steps of one epoch and emits throttled DeviceProgress events. */
export class StepReporter {
  private readonly throttle: Throttle;
  private stepsDone = 0;
  private lossSum = 0;
  private lossCount = 0;

  constructor(
    private readonly p: Particle,
    private readonly epoch: number,
    private readonly stepsTotal: number,
    private readonly particles: number,
    intervalMs: number,
  ) {
    this.throttle = new Throttle(intervalMs);
    this.throttle.due(); // nothing to say at step 0
  }

  /** One step taken; `losses` are the finite losses it produced. */
  step(losses: ArrayLike<number>): void {
    this.stepsDone++;
    for (let i = 0; i < losses.length; i++) {
      this.lossSum += losses[i];
      this.lossCount++;
    }
    if (this.stepsDone < this.stepsTotal && this.throttle.due()) this.send();
  }

  /** The epoch's last report (always sent). */
  end(): void {
    this.send();
  }

  private send(): void {
    const body: DeviceProgress = { epoch: this.epoch, stepsDone: this.stepsDone, stepsTotal: this.stepsTotal, particles: this.particles, lossSum: this.lossSum, lossCount: this.lossCount };
    this.p.emit(PROGRESS_EVENT, body);
  }
}

export type ProgressCallback = (p: TrainProgress) => void | Promise<void>;

/** Coordinator side: sums the devices' reports of the current epoch and calls onProgress. */
export class ProgressTracker {
  private readonly perDevice = new Map<string, DeviceProgress>();
  private epoch = -1;
  private t0 = 0;
  private lastSteps = 0;
  private failed = false;
  private readonly leaderThrottle = new Throttle(PROGRESS_INTERVAL_MS);
  private readonly unsubscribe: () => void;
  private readonly particles: number;

  constructor(
    cluster: ParticleCluster,
    private readonly epochs: number,
    private readonly callback: ProgressCallback,
  ) {
    this.particles = cluster.numParticles;
    this.unsubscribe = cluster.dist.onEvent((e) => {
      if (e.name === PROGRESS_EVENT) this.fromDevice(e.device, e.value as DeviceProgress);
    });
  }

  /** A new (0-based) epoch starts: earlier reports no longer count. */
  begin(epoch: number): void {
    this.epoch = epoch;
    this.perDevice.clear();
    this.lastSteps = 0;
    this.t0 = performance.now();
  }

  /** A report from the coordinator itself (SVGD), for every particle at once; throttled here. */
  fromLeader(p: DeviceProgress): void {
    if (p.stepsDone < p.stepsTotal && !this.leaderThrottle.due()) return;
    this.fromDevice('leader', p);
  }

  close(): void {
    this.unsubscribe();
  }

  private fromDevice(device: string, p: DeviceProgress): void {
    // Reports of an epoch that was abandoned (a worker restart went back to a checkpoint) are dropped.
    if (!p || p.epoch !== this.epoch) return;
    this.perDevice.set(device, p);
    let done = 0;
    let sum = 0;
    let count = 0;
    for (const d of this.perDevice.values()) {
      done += d.stepsDone * d.particles;
      sum += d.lossSum;
      count += d.lossCount;
    }
    // Devices that have not reported yet count as not started; the count never goes back.
    const stepsTotal = p.stepsTotal;
    const steps = Math.min(stepsTotal, Math.max(this.lastSteps, Math.floor(done / this.particles)));
    this.lastSteps = steps;
    this.call({
      epoch: this.epoch + 1,
      epochs: this.epochs,
      stepsDone: steps,
      stepsTotal,
      particleStepsDone: done,
      particleStepsTotal: stepsTotal * this.particles,
      loss: count > 0 ? sum / count : NaN,
      seconds: (performance.now() - this.t0) / 1000,
    });
  }

  private call(p: TrainProgress): void {
    try {
      const r = this.callback(p);
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch((err) => this.failedOnce(err));
    } catch (err) {
      this.failedOnce(err);
    }
  }

  /** A throwing onProgress must not stop training: said once, then ignored. */
  private failedOnce(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    process.emitWarning(`onProgress threw (training goes on; reported once): ${err instanceof Error ? err.message : String(err)}`);
  }
}
