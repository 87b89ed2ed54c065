// `push-ens devices --nats URL`: the worker hosts a NATS system can see, with
// their devices, backends, free slots and versions (discovery by request-reply).
import type { NatsOptions } from '../../runtime/nats/options';
import type { WorkerAdvert } from '../../runtime/nats/protocol';
import { formatTable } from '../output';

export interface ClusterReport {
  servers: string[];
  protocol: number;
  workers: WorkerAdvert[];
}

export async function collectClusterDevices(nats: NatsOptions, waitMs = 1000): Promise<ClusterReport> {
  const { resolveNatsOptions } = require('../../runtime/nats/options') as typeof import('../../runtime/nats/options');
  const { NatsHub } = require('../../runtime/nats/hub') as typeof import('../../runtime/nats/hub');
  const { discoverWorkers } = require('../../runtime/nats/remote') as typeof import('../../runtime/nats/remote');
  const { NATS_PROTOCOL } = require('../../runtime/nats/protocol') as typeof import('../../runtime/nats/protocol');
  const settings = resolveNatsOptions(nats, 'push-ens devices');
  const hub = await NatsHub.connect(settings);
  try {
    return { servers: settings.servers, protocol: NATS_PROTOCOL, workers: await discoverWorkers(hub.nc, waitMs) };
  } finally {
    await hub.close();
  }
}

export function formatClusterDevices(r: ClusterReport): string {
  if (r.workers.length === 0) return `no worker hosts answer on ${r.servers.join(',')} (start one with: push-ens worker --nats URL --name HOST)`;
  const rows: string[][] = [];
  for (const w of r.workers) {
    const note = w.protocol !== r.protocol ? ` (protocol ${w.protocol}: incompatible, this is ${r.protocol})` : w.draining ? ' (draining)' : '';
    for (const d of w.devices) rows.push([`${w.host}/${d.device}`, d.backends.join(',') || '-', `${d.free}/${d.slots}`, `${w.version}${note}`, w.handlers.join(',') || '-']);
  }
  const hosts = `${r.workers.length} worker host${r.workers.length === 1 ? '' : 's'} on ${r.servers.join(',')}`;
  return `${hosts}\n\n${formatTable(['device', 'backends', 'free', 'version', 'handlers'], rows, ['l', 'l', 'r', 'l', 'l'])}`;
}
