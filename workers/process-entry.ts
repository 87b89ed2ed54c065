// Entry point of a device worker child process (cuda:N devices, and CPU devices
// with isolation 'process'). Frames arrive on fd 3, a socket pair with the coordinator.
import { SocketEndpoint } from '../src/runtime/endpoint';
import { DeviceWorker } from '../src/runtime/device-worker';

new DeviceWorker(new SocketEndpoint(3)).run().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`device worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
