// Opens a checkpoint's posterior on the chosen devices for one command, with
// Ctrl-C turning into a clean stop: the posterior is always closed (its device
// workers end) and an interrupted run reports the signal, not a worker error.
import type { DeviceChoice } from './common';
import type * as Engine from './engine';
import { engine } from './lazy';
import { Interrupts, InterruptedError, reportInterruptOnce } from './signals';

export async function withPosterior<T>(info: Engine.CheckpointInfo, devices: DeviceChoice, fn: (p: Engine.OpenPosterior) => Promise<T>): Promise<T> {
  const interrupts = new Interrupts(0, (sig) => reportInterruptOnce(`push-ens: interrupted by ${sig}`)).install();
  const posterior = await engine().openPosterior(info, devices, interrupts);
  try {
    return await fn(posterior);
  } catch (err) {
    if (interrupts.received) throw new InterruptedError(interrupts.received);
    throw err;
  } finally {
    await posterior.close();
    interrupts.uninstall();
  }
}
