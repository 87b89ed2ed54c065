// Entry point of a device worker thread, run by piscina. The task only wires the
// device to its port and returns: the port's listener keeps the thread serving
// until the coordinator closes it, and piscina, whose own port keeps the
// coordinator's process alive while a task runs, sees an idle thread (so an idle
// device does not stop a script from ending; see DeviceLink.hold).
import '../src/util/compile-cache-install'; // first: the modules below load through the code cache
import type { MessagePort } from 'node:worker_threads';
import { PortEndpoint } from '../src/runtime/port-endpoint';
import { DeviceWorker } from '../src/runtime/device-worker';

export default function serveDevice({ port }: { port: MessagePort }): void {
  void new DeviceWorker(new PortEndpoint(port)).run();
}
