// The coordinator side of the algorithms: a PushDist with the bayes handlers
// loaded, its particles grouped by device, one message per device per round,
// and the time of every round split into device compute, leader (coordinator)
// compute and messaging (the rest: encoding, thread or process hops, waiting).
import * as path from 'node:path';
import { PushDist } from '../runtime/coordinator';
import type { NatsOptions } from '../runtime/nats/options';
import type { ParticleSnapshot } from '../runtime/worker-api';
import type { OptimizerConfig } from '../nn/optimizers';
import type { SchedulerConfig } from '../nn/schedulers';
import type { ArrayData } from '../runtime/training-handlers';
import type { DeviceMessages } from './device/messages';

/** Compiled path of the shared handler module every device worker loads (next to the algorithm's). */
export const BAYES_HANDLERS = path.join(__dirname, 'device', 'handlers.js');

export interface ClusterOptions {
  model: unknown;
  /** Compiled path of the algorithm's device module (Algorithm.deviceModule). */
  deviceModule: string;
  devices?: string | readonly string[];
  backend?: string;
  isolation?: string;
  /** NATS servers and credentials for remote devices. */
  nats?: NatsOptions;
  cacheSize?: number;
  /** Device-resident training; default: on the tensorflow backend only. */
  resident?: boolean;
  seed?: number;
  /** Per-message timeout (ms) of handler calls; default none. */
  timeoutMs?: number;
}

export interface ParticleSpec {
  seed: number;
  optimizer: OptimizerConfig;
  scheduler?: SchedulerConfig;
  snapshot?: ParticleSnapshot;
}

/** Where the time of a run of rounds went, in milliseconds. */
export interface TimingReport {
  wallMs: number;
  /** Sum over rounds of the slowest device's handler time. */
  deviceMs: number;
  /** Coordinator-side computation (SVGD's kernel and Stein directions). */
  leaderMs: number;
  /** wall - device - leader: serialisation, transfers, thread/process hops, scheduling. */
  messagingMs: number;
  /** Rounds of one message per device. */
  rounds: number;
}

export class Timing {
  private wall = 0;
  private device = 0;
  private leader = 0;
  private rounds = 0;

  addRound(wallMs: number, deviceMs: number): void {
    this.wall += wallMs;
    this.device += deviceMs;
    this.rounds++;
  }

  addLeader(ms: number): void {
    this.wall += ms;
    this.leader += ms;
  }

  report(): TimingReport {
    return { wallMs: this.wall, deviceMs: this.device, leaderMs: this.leader, messagingMs: Math.max(0, this.wall - this.device - this.leader), rounds: this.rounds };
  }
}

export class ParticleCluster {
  /** Local particles of each device, in pid order; devices in the dist's order. */
  private readonly groups = new Map<string, number[]>();
  readonly timing = new Timing();

  private constructor(readonly dist: PushDist) {}

  static async start(opts: ClusterOptions): Promise<ParticleCluster> {
    const dist = await PushDist.create({
      devices: opts.devices,
      model: opts.model,
      handlers: [BAYES_HANDLERS, opts.deviceModule],
      backend: opts.backend,
      isolation: opts.isolation,
      nats: opts.nats,
      cacheSize: opts.cacheSize,
      resident: opts.resident,
      seed: opts.seed,
      timeoutMs: opts.timeoutMs,
    });
    return new ParticleCluster(dist);
  }

  get devices(): string[] {
    return this.dist.devices;
  }

  /** Creates the particles (pids 0..k-1, round-robin over devices). */
  createParticles(specs: readonly ParticleSpec[]): void {
    for (const s of specs) {
      const pid = this.dist.createParticle({
        seed: s.seed,
        optimizer: s.optimizer as unknown as Record<string, unknown>,
        scheduler: s.scheduler as unknown as Record<string, unknown> | undefined,
        snapshot: s.snapshot,
      });
      const device = this.dist.deviceOf(pid);
      this.groups.set(device, [...(this.groups.get(device) ?? []), pid]);
    }
  }

  get numParticles(): number {
    return this.dist.particleIds().length;
  }

  /** Devices holding particles, each with its local pids. */
  deviceGroups(): { device: string; pids: number[] }[] {
    return [...this.groups].map(([device, pids]) => ({ device, pids }));
  }

  /** Sends `msg` once to each device (PushDist.callDevice) with arguments built from its pids; results in device order. */
  async eachDevice<T>(msg: string, args: (pids: number[], device: string) => unknown, only?: readonly string[]): Promise<T[]> {
    const groups = this.deviceGroups().filter(({ device }) => !only || only.includes(device));
    return Promise.all(groups.map(({ device, pids }) => this.dist.callDevice<T>(device, msg, args(pids, device))));
  }

  /** A typed message of the Bayesian layer (device/messages.ts), once per device; results in device order. */
  call<M extends keyof DeviceMessages>(msg: M, args: (pids: number[], device: string) => DeviceMessages[M]['args'], only?: readonly string[]): Promise<DeviceMessages[M]['result'][]> {
    return this.eachDevice<DeviceMessages[M]['result']>(msg, args, only);
  }

  /** eachDevice for handlers that report their compute time `ms`: the round goes into the timing. */
  async timedRound<T extends { ms: number }>(msg: string, args: (pids: number[], device: string) => unknown): Promise<T[]> {
    const t0 = performance.now();
    const results = await this.eachDevice<T>(msg, args);
    this.timing.addRound(performance.now() - t0, Math.max(0, ...results.map((r) => r.ms)));
    return results;
  }

  /** Keeps `data` on every device (or only the listed ones, e.g. a restarted device). */
  async setData(key: string, data: ArrayData, only?: readonly string[]): Promise<void> {
    await this.call('bayesSetData', () => ({ key, data }), only);
  }

  close(): Promise<void> {
    return this.dist.close();
  }
}
