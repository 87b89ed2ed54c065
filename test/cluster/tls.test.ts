// TLS to the NATS servers, with a throwaway CA made by openssl: a nats-server
// that requires TLS and verifies client certificates, a worker host and a
// coordinator (the CLI and the API) that give --nats-ca/--nats-cert/--nats-key
// connect and train; a client without the CA, or without a client certificate,
// is refused with one line.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainDeepEnsemble } from '../../src/bayes';
import { PushDist } from '../../src/runtime/coordinator';
import { dense } from '../../src/nn';
import { PushInputError } from '../../src/util/errors';
import { regressionData } from '../bayes/helpers';
import { CLI, NatsServer, WorkerProcess, startNatsServer, startWorker, stopAll } from './harness';
import { runCli } from '../cli/helpers';

jest.setTimeout(120_000);

let dir: string;
let server: NatsServer;
let host: WorkerProcess;
let url: string;
const F = (name: string) => path.join(dir, name);
let tlsFlags: string[];

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA (EC keys: quick to make). */
function makeCertificates(): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=push-ens test CA');
  fs.writeFileSync(F('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  fs.writeFileSync(F('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    ssl('req', ...ec, '-keyout', `${who}-key.pem`, '-out', `${who}.csr`, '-subj', `/CN=push-ens test ${who}`);
    ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1', '-extfile', `${who}.ext`);
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'push-ens-tls-'));
  makeCertificates();
  server = await startNatsServer({
    config: `tls {\n  cert_file: "${F('server.pem')}"\n  key_file: "${F('server-key.pem')}"\n  ca_file: "${F('ca.pem')}"\n  verify: true\n}\n`,
  });
  url = server.url.replace(/^nats:/, 'tls:');
  tlsFlags = ['--nats-ca', F('ca.pem'), '--nats-cert', F('client.pem'), '--nats-key', F('client-key.pem')];
  host = await startWorker(url, 'tlsA', 'cpu:0', tlsFlags);
});

afterAll(async () => {
  await stopAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a worker host and a coordinator with the CA and client certificates connect over TLS and train (CLI and API)', async () => {
  const r = await runCli(['train', '--nats', url, ...tlsFlags, '--devices', 'tlsA/cpu:0,cpu:0', '--data', 'toy', '--model', 'mlp:8', '--particles', '2', '--epochs', '2', '-b', '32', '--json']);
  expect(r.stderr).not.toMatch(/error/);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as { devices: string[]; finalLoss: number[] };
  expect(out.finalLoss.every(Number.isFinite)).toBe(true);
  await host.waitForLine(/coordinator .* left \(closed by its coordinator\)/);

  // The API, on the same host: the same parameters as on a local device.
  const base = { model: dense([3, 6, 1]), data: regressionData(32, 2), epochs: 2, batchSize: 16, particles: 2, seed: 5 };
  const tls = { caFile: F('ca.pem'), certFile: F('client.pem'), keyFile: F('client-key.pem') };
  const remote = await trainDeepEnsemble({ ...base, devices: 'tlsA/cpu:0', nats: { servers: url, tls } });
  const local = await trainDeepEnsemble({ ...base, devices: 'cpu:0' });
  try {
    const [a, b] = await Promise.all([remote.particleParameters(), local.particleParameters()]);
    for (let k = 0; k < 2; k++) expect(Array.from(a[k])).toEqual(Array.from(b[k]));
  } finally {
    await Promise.all([remote.close(), local.close()]);
  }
});

test('a client without the CA, or without a client certificate, is refused with one line', async () => {
  const clientCert = ['--nats-cert', F('client.pem'), '--nats-key', F('client-key.pem')];
  const [noCaDevices, noCaWorker, noCert] = await Promise.all([
    runCli(['devices', '--nats', url, ...clientCert]),
    runCli(['worker', '--name', 'untrusting', '--nats', url, ...clientCert]),
    runCli(['devices', '--nats', url, '--nats-ca', F('ca.pem')]),
  ]);
  for (const r of [noCaDevices, noCaWorker]) {
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `push-ens: error: nats server ${url} has a TLS certificate this client does not trust (unable to verify the first certificate): give the CA that signed it (--nats-ca, tls.caFile)`,
    );
  }
  // The server drops it after the handshake; the client sees only its connect time out, and says why that may be.
  expect(noCert.code).toBe(1);
  expect(noCert.stderr.trim()).toBe(
    `push-ens: error: could not connect to nats server ${url}: TIMEOUT (a server that verifies TLS clients drops one without a certificate: give --nats-cert and --nats-key, tls.certFile and tls.keyFile)`,
  );
  const api = await PushDist.create({ devices: 'tlsA/cpu:0', model: dense([3, 4, 1]), nats: { servers: url } }).catch((e) => e);
  expect(api).toBeInstanceOf(PushInputError);
  expect((api as Error).message).toMatch(/has a TLS certificate this client does not trust/);
  // Plain nats:// to a server that requires TLS: the client upgrades, and without the CA it is refused the same way.
  const plain = spawnSync(process.execPath, [CLI, 'devices', '--nats', server.url], { encoding: 'utf8', timeout: 20_000 });
  expect(plain.status).toBe(2);
  expect(plain.stderr).toMatch(/has a TLS certificate this client does not trust/);
  expect(host.proc.exitCode).toBeNull();
});
