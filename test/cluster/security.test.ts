// Security of remote devices: credentials are required off loopback, a server
// with accounts refuses unauthenticated clients, and a client of another
// account can neither find nor use a worker host, nor read what it sends.
import { spawnSync } from 'node:child_process';
import { connect } from 'nats';
import { PushDist } from '../../src/runtime/coordinator';
import { resolveNatsOptions } from '../../src/runtime/nats/options';
import { discoverWorkers } from '../../src/runtime/nats/remote';
import { PushInputError } from '../../src/util/errors';
import { CLI, NatsServer, WorkerProcess, startNatsServer, startWorker, stopAll } from './harness';

jest.setTimeout(60_000);

const CONFIG = `
accounts: {
  TEAM: { users: [ { user: alice, password: alice-pw }, { user: worker, password: worker-pw } ] }
  OTHER: { users: [ { user: mallory, password: mallory-pw } ] }
}
`;
const MODEL = { format: 'push-ens/sequential', inputShape: [3], layers: [{ type: 'dense', units: 4 }] };

let server: NatsServer;
let host: WorkerProcess;

beforeAll(async () => {
  server = await startNatsServer({ config: CONFIG });
  host = await startWorker(server.url, 'secure', 'cpu:0', ['--nats-user', 'worker'], { PUSH_ENS_NATS_PASS: 'worker-pw' });
});

afterAll(async () => {
  await stopAll();
});

test('a server that is not on loopback needs credentials: one line from the API and the CLI, before any connection', () => {
  expect(() => resolveNatsOptions({ servers: 'nats://10.1.2.3:4222' }, 't')).toThrow(
    /^nats server nats:\/\/10\.1\.2\.3:4222 is not on loopback: give credentials \(user and pass, a token, or a creds file/,
  );
  expect(() => resolveNatsOptions({ servers: ['nats://127.0.0.1:4222', 'tls://nats.example.com:4222'] }, 't')).toThrow(PushInputError);
  expect(() => resolveNatsOptions({ servers: 'nats://nats.example.com:4222', user: 'u' }, 't')).toThrow(/user and pass go together/);
  expect(resolveNatsOptions({ servers: 'nats://nats.example.com:4222', token: 's3cret' }, 't').servers).toEqual(['nats://nats.example.com:4222']);
  expect(resolveNatsOptions({ servers: 'localhost:4222' }, 't').servers).toEqual(['localhost:4222']);
  for (const args of [
    ['train', '--devices', 'hostA/cpu:0', '--nats', 'nats://10.1.2.3:4222'],
    ['worker', '--name', 'h', '--nats', 'nats://10.1.2.3:4222'],
  ]) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/is not on loopback: give credentials/);
  }
  const noNats = spawnSync(process.execPath, [CLI, 'train', '--devices', 'hostA/cpu:0'], { encoding: 'utf8' });
  expect(noNats.status).toBe(2);
  expect(noNats.stderr).toMatch(/--devices hostA\/cpu:0 is on a worker host: give --nats URL/);
});

test('unauthenticated clients are refused with one line: no worker host starts, no coordinator connects', async () => {
  const r = spawnSync(process.execPath, [CLI, 'worker', '--name', 'anon', '--nats', server.url], { encoding: 'utf8', timeout: 20_000 });
  expect(r.status).toBe(2);
  expect(r.stderr.trim()).toBe(`push-ens: error: nats server ${server.url} refused the credentials (authorization violation)`);
  const err = await PushDist.create({ devices: 'secure/cpu:0', model: MODEL, nats: { servers: server.url } }).catch((e) => e);
  expect(err).toBeInstanceOf(PushInputError);
  expect((err as Error).message).toMatch(/refused the credentials/);
  const wrong = await PushDist.create({ devices: 'secure/cpu:0', model: MODEL, nats: { servers: server.url, user: 'alice', pass: 'guess' } }).catch((e) => e);
  expect((wrong as Error).message).toMatch(/refused the credentials/);
});

test('another account can neither see nor use the worker host, nor read the parameters its coordinator gets', async () => {
  const mallory = await connect({ servers: server.url, user: 'mallory', pass: 'mallory-pw' });
  const seen: string[] = [];
  try {
    expect(await discoverWorkers(mallory, 500)).toEqual([]);
    const denied = await PushDist.create({ devices: 'secure/cpu:0', model: MODEL, nats: { servers: server.url, user: 'mallory', pass: 'mallory-pw' } }).catch((e) => e);
    expect((denied as Error).message).toMatch(/no worker host named "secure" answers/);
    mallory.subscribe('>', { callback: (_e, m) => void seen.push(m.subject) });
    await mallory.flush();
    // Alice, of the worker's account, works as usual while mallory listens to everything.
    const dist = await PushDist.create({ devices: 'secure/cpu:0', model: MODEL, nats: { servers: server.url, user: 'alice', pass: 'alice-pw' } });
    try {
      dist.createParticle();
      expect((await dist.parameters(0)).length).toBe(16);
    } finally {
      await dist.close();
    }
    mallory.publish('probe.mine');
    await mallory.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual(['probe.mine']); // the listener works, and saw nothing of alice's session
  } finally {
    await mallory.close();
  }
  expect(host.lines.filter((l) => /connected/.test(l))).toHaveLength(1);
});
