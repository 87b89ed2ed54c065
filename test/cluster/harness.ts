// Real nats-server processes on free loopback ports (one server, or a 3-node
// cluster) and `push-ens worker` hosts as separate OS processes, for the
// cluster tests and bench/cluster.ts. Everything started here is stopped by pid.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { withHugePages } from '../../src/runtime/links';

export const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');
export const FIXTURE_HANDLERS = path.resolve(__dirname, 'fixtures', 'cluster-handlers.js');

const started = new Set<ChildProcess>();
const tempDirs: string[] = [];

/** A free TCP port on 127.0.0.1 (probe and release). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function httpJson(port: number, p: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${p}`);
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export interface NatsServer {
  pid: number;
  port: number;
  monitorPort: number;
  url: string;
  proc: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Names of the client connections on this server (from its monitoring endpoint). */
  connectionNames(): Promise<string[]>;
}

function track(proc: ChildProcess): void {
  started.add(proc);
  proc.once('exit', () => started.delete(proc));
}

function stopper(proc: ChildProcess): (signal?: NodeJS.Signals) => Promise<void> {
  return async (signal = 'SIGKILL') => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await gone;
  };
}

/** Starts nats-server on a free loopback port; `config` is written to a file (an accounts/users block, say). */
export async function startNatsServer(opts: { config?: string; cluster?: { name: string; port: number; routes: number[] }; host?: string } = {}): Promise<NatsServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = await freePort();
  const monitorPort = await freePort();
  const args = ['-a', host, '-p', String(port), '-m', String(monitorPort)];
  if (opts.config !== undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'push-ens-nats-'));
    tempDirs.push(dir);
    const file = path.join(dir, 'server.conf');
    fs.writeFileSync(file, opts.config);
    args.push('-c', file);
  }
  if (opts.cluster) {
    args.push('--cluster_name', opts.cluster.name, '--cluster', `nats://127.0.0.1:${opts.cluster.port}`);
    if (opts.cluster.routes.length) args.push('--routes', opts.cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
  }
  const proc = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  track(proc);
  let log = '';
  proc.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  await waitFor(`nats-server on port ${port}`, async () => {
    if (proc.exitCode !== null) throw new Error(`nats-server exited: ${log}`);
    return canConnect(port, host);
  });
  return {
    pid: proc.pid!,
    port,
    monitorPort,
    url: `nats://${host}:${port}`,
    proc,
    stop: stopper(proc),
    async connectionNames() {
      const j = await httpJson(monitorPort, '/connz?limit=1024');
      return ((j?.connections as { name?: string }[]) ?? []).map((c) => c.name ?? '');
    },
  };
}

/** A 3-node (by default) nats-server cluster on loopback, routes up before it returns. */
export async function startNatsCluster(nodes = 3): Promise<NatsServer[]> {
  const clusterPorts = await Promise.all(Array.from({ length: nodes }, () => freePort()));
  const servers = await Promise.all(
    clusterPorts.map((p, i) => startNatsServer({ cluster: { name: 'pushens-test', port: p, routes: clusterPorts.filter((_, j) => j !== i) } })),
  );
  await waitFor('cluster routes', async () => {
    const routes = await Promise.all(servers.map((s) => httpJson(s.monitorPort, '/routez')));
    return routes.every((r) => Number(r?.num_routes ?? 0) >= nodes - 1);
  });
  return servers;
}

export interface WorkerProcess {
  pid: number;
  proc: ChildProcess;
  /** stderr lines so far. */
  lines: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts `push-ens worker` as its own OS process and waits until it serves. */
export async function startWorker(
  urls: string | string[],
  name: string,
  devices = 'cpu:0',
  extra: string[] = [],
  env: Record<string, string> = {},
  /** A command that runs the worker (e.g. ['ip', 'netns', 'exec', NS]): it must exec node in place, so the pid is the worker's. */
  wrapper: string[] = [],
): Promise<WorkerProcess> {
  const servers = [urls].flat().join(',');
  const command = [...wrapper, process.execPath, CLI, 'worker', '--nats', servers, '--name', name, '--devices', devices, ...extra];
  const proc = spawn(command[0], command.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, GLIBC_TUNABLES: withHugePages(process.env.GLIBC_TUNABLES), ...env },
  });
  track(proc);
  const lines: string[] = [];
  let partial = '';
  proc.stderr!.on('data', (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  const w: WorkerProcess = {
    pid: proc.pid!,
    proc,
    lines,
    stop: stopper(proc),
    async waitForLine(pattern, timeoutMs = 15_000) {
      let found: string | undefined;
      await waitFor(`worker ${name} to log ${pattern}`, () => {
        if (proc.exitCode !== null && !(found = lines.find((l) => pattern.test(l)))) throw new Error(`worker ${name} exited (${proc.exitCode}): ${lines.join(' | ')}`);
        return (found = lines.find((l) => pattern.test(l))) !== undefined;
      }, timeoutMs);
      return found!;
    },
  };
  await w.waitForLine(/serving /);
  return w;
}

/** SIGKILLs everything this harness started that is still running, and removes its config files (afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((p) => stopper(p)('SIGKILL')));
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
