// Device strings: `cpu:N` (a worker thread, or a child process with
// isolation 'process') and `cuda:N` (a child process bound to GPU N), and
// `HOST/cpu:N`, `HOST/cuda:N` for a device served by `push-ens worker --name
// HOST` over NATS (src/runtime/nats). A host name is one NATS subject token.
import { PushInputError } from '../util/errors';

export type DeviceKind = 'cpu' | 'cuda';

export interface Device {
  readonly name: string; // canonical, e.g. "cuda:1" or "hostA/cuda:1"
  readonly kind: DeviceKind;
  readonly index: number;
  /** The worker host serving the device, for a remote device. */
  readonly host?: string;
}

const DEVICE_PATTERN = /^(?:([A-Za-z0-9][A-Za-z0-9_-]{0,62})\/)?(cpu|cuda):(0|[1-9][0-9]{0,3})$/;
/** What a worker's --name may be: letters, digits, '-' and '_' (no dots: it is one NATS subject token). */
export const HOST_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export function parseDevice(text: string): Device {
  const s = String(text).trim();
  const m = DEVICE_PATTERN.exec(s);
  if (!m) {
    throw new PushInputError(
      `bad device ${JSON.stringify(text)}: expected "cpu:N" or "cuda:N" with N a whole number (e.g. cpu:0, cuda:1), or "HOST/cpu:N" for a device of a NATS worker host`,
    );
  }
  const device = { name: s, kind: m[2] as DeviceKind, index: Number(m[3]) };
  return m[1] === undefined ? device : { ...device, host: m[1] };
}

/** Parses a comma-separated list or an array of device strings; rejects empty lists and duplicates. */
export function parseDeviceList(input: string | readonly string[]): Device[] {
  const parts = typeof input === 'string' ? input.split(',') : [...input];
  if (parts.length === 0 || parts.every((p) => String(p).trim() === '')) {
    throw new PushInputError('empty device list: expected at least one device such as "cpu:0" or "cpu:0,cpu:1"');
  }
  const devices = parts.map(parseDevice);
  const seen = new Set<string>();
  for (const d of devices) {
    if (seen.has(d.name)) throw new PushInputError(`duplicate device ${JSON.stringify(d.name)} in device list: each device may appear once`);
    seen.add(d.name);
  }
  return devices;
}
