// Entry point of a device worker thread, run by piscina: one long task that
// owns the device until the coordinator closes it.
import type { MessagePort } from 'node:worker_threads';
import { PortEndpoint } from '../src/runtime/endpoint';
import { DeviceWorker } from '../src/runtime/device-worker';

export default async function serveDevice({ port }: { port: MessagePort }): Promise<void> {
  await new DeviceWorker(new PortEndpoint(port)).run();
}
