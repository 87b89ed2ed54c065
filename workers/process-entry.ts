// Entry point of a device worker child process (cuda:N devices, and CPU devices
// with isolation 'process'). Frames arrive on fd 3, a socket pair with the coordinator.
//
// The worker never outlives its coordinator. When the coordinator exits, the
// socket closes and an idle worker exits (src/runtime/endpoint.ts); a coordinator
// that exits normally also SIGKILLs its workers (src/runtime/worker-processes.ts).
// But a coordinator that is itself SIGKILLed runs no code, and a worker whose main
// thread is busy in a long handler would not see the socket close until the
// handler returns. So a watchdog thread, with an event loop of its own, checks
// every 200 ms that the parent is still the coordinator that started this process
// (an orphan is re-parented to init or a subreaper) and SIGKILLs the process if not.
//
// Ctrl-C in a terminal sends SIGINT to the whole process group: the coordinator
// decides how to stop (finish the step, then close its workers), so the worker
// ignores SIGINT rather than die under a running epoch.
import '../src/util/compile-cache-install'; // first: the modules below load through the code cache
import { Worker } from 'node:worker_threads';
import { SocketEndpoint } from '../src/runtime/endpoint';
import { DeviceWorker } from '../src/runtime/device-worker';
import { COORDINATOR_PID_ENV } from '../src/runtime/worker-processes';

/** How often the watchdog looks at the parent pid. */
const WATCHDOG_INTERVAL_MS = 200;

const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads');
const check = () => {
  if (process.ppid !== workerData.coordinator) process.kill(workerData.self, 'SIGKILL');
};
check();
setInterval(check, workerData.interval);
`;

function startWatchdog(): void {
  const coordinator = Number(process.env[COORDINATOR_PID_ENV] ?? process.ppid);
  if (!Number.isInteger(coordinator) || coordinator <= 1) return;
  if (process.ppid !== coordinator) process.kill(process.pid, 'SIGKILL'); // already orphaned
  const watchdog = new Worker(WATCHDOG_SOURCE, {
    eval: true,
    workerData: { coordinator, self: process.pid, interval: WATCHDOG_INTERVAL_MS },
    // A few MB at most: the thread holds one timer.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
    stdout: false,
    stderr: false,
  });
  // The watchdog must never keep the worker alive, nor take it down if it fails.
  watchdog.unref();
  watchdog.on('error', (err) => process.stderr.write(`device worker watchdog failed: ${err instanceof Error ? err.message : String(err)}\n`));
}

process.on('SIGINT', () => undefined);
startWatchdog();

new DeviceWorker(new SocketEndpoint(3)).run().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`device worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
