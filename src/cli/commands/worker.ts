// `push-ens worker`: a long-running worker host serving this machine's devices
// to coordinators over NATS (src/runtime/nats/host.ts). SIGTERM (or Ctrl-C)
// drains: no new sessions, the open ones get --drain-ms to end, then it exits 0;
// a second signal ends it at once.
import { Command } from 'commander';
import { PushInputError } from '../../util/errors';
import { NatsFlags, addNatsFlags, natsOptionsFromFlags } from '../nats-flags';
import { parseChoice, parseInteger } from '../options';
import { Interrupts } from '../signals';

interface WorkerFlags extends NatsFlags {
  name?: string;
  devices?: string;
  handlers?: string;
  isolation?: string;
  slots?: string;
  drainMs?: string;
  verbose?: boolean;
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .summary("serve this machine's devices to coordinators over NATS")
    .description(
      "Serve this machine's devices to push-ens coordinators over a NATS system, as HOST/cpu:N and HOST/cuda:N. " +
        'One device worker per device and session, as locally. Logs one line per coordinator. ' +
        'SIGTERM drains (no new sessions; open ones get --drain-ms) and exits. See docs/CLUSTER.md.',
    )
    .requiredOption('--name <host>', "this host's name in device strings (letters, digits, '-', '_')")
    .option('--devices <list>', 'local devices to serve, comma-separated cpu:N / cuda:N (default: cpu:0)')
    .option('--handlers <paths>', 'comma-separated handler modules coordinators may ask for, by file name (no code crosses the wire)')
    .option('--isolation <kind>', 'run cpu:N device workers as threads or child processes: thread or process (default: thread)')
    .option('--slots <n>', 'sessions one device serves at once, each with its own device worker (default: 1)')
    .option('--drain-ms <ms>', 'on SIGTERM, how long open sessions get to end before they are cut (default: 30000)')
    .option('-v, --verbose', 'print stack traces on errors');
  addNatsFlags(cmd).action(async (flags: WorkerFlags) => runWorker(flags));
}

async function runWorker(flags: WorkerFlags): Promise<void> {
  const nats = natsOptionsFromFlags(flags);
  if (!nats) throw new PushInputError('push-ens worker needs --nats URL (the NATS server(s) coordinators use too)');
  const isolation = parseChoice('--isolation', flags.isolation ?? 'thread', ['thread', 'process']);
  const slots = flags.slots === undefined ? 1 : parseInteger('--slots', flags.slots, 1, 64);
  const drainMs = flags.drainMs === undefined ? 30_000 : parseInteger('--drain-ms', flags.drainMs, 0, 24 * 3600_000);
  const handlers = flags.handlers === undefined ? [] : flags.handlers.split(',').map((s) => s.trim()).filter((s) => s !== '');
  // A second signal (or the drain overrunning by 10 s) exits at once, killing device worker processes.
  const interrupts = new Interrupts(drainMs + 10_000).install();
  const { WorkerHost } = require('../../runtime/nats/host') as typeof import('../../runtime/nats/host');
  const host = await WorkerHost.start({ name: flags.name!, devices: flags.devices ?? 'cpu:0', nats, handlers, isolation, slots });
  const devices = host.devices.map((d) => `${host.name}/${d.name}`).join(', ');
  host.log(`serving ${devices} on ${[nats.servers].flat().join(',')} (push-ens NATS protocol ${(require('../../runtime/nats/protocol') as typeof import('../../runtime/nats/protocol')).NATS_PROTOCOL})`);
  // A connection closed for good (not a reconnect) leaves nothing to serve: exit 1 so a supervisor restarts us.
  void host.closed.then((err) => {
    if (host.isDraining) return;
    host.log(`the NATS connection closed${err ? `: ${String((err as Error).message).split('\n')[0]}` : ''}; exiting`);
    interrupts.uninstall();
    process.exit(1);
  });
  await new Promise<void>((resolve) => interrupts.signal.addEventListener('abort', () => resolve(), { once: true }));
  host.log(`${interrupts.received}: draining`);
  await host.drain(drainMs);
  host.log('stopped');
  interrupts.uninstall();
}
