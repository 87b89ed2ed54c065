// docs/CLUSTER.md's examples that run on one machine, as written: a nats-server
// with the doc's users and permissions, and the doc's two workers, started here
// on free loopback ports; the doc's URL is pointed at the real port.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, parseDoc, runDoc, scratchDir } from './doc-blocks';
import { startNatsServer, startWorker, stopAll } from '../cluster/harness';

jest.setTimeout(300_000);

afterAll(async () => {
  await stopAll();
});

test('docs/CLUSTER.md: the one-machine examples run as written; the rest need other hosts', async () => {
  const doc = path.join(REPO, 'docs', 'CLUSTER.md');
  const auth = parseDoc(doc).blocks.find((b) => b.kind === 'file' && b.name === 'auth.conf');
  expect(auth).toBeDefined();
  const server = await startNatsServer({ config: auth!.text });
  const creds = ['--nats-user', 'worker', '--nats-pass', 'worker-secret'];
  await Promise.all([startWorker(server.url, 'hostA', 'cpu:0', creds), startWorker(server.url, 'hostB', 'cpu:0', creds)]);
  const { dir, cleanup } = scratchDir('push-ens-cluster-doc-');
  try {
    const { ran, skipped } = await runDoc(doc, dir, (c) => c.replace(/nats:\/\/127\.0\.0\.1:4222/g, server.url));
    expect(ran.map((r) => r.split('$ ')[1].split(' ')[0])).toEqual(['push-ens', 'push-ens', 'push-ens', 'node']);
    for (const s of skipped) expect(s).toMatch(/long-running|terminals|other hosts|three hosts|another host|benchmark figures/);
  } finally {
    cleanup();
  }
  // The config for three hosts is one nats-server accepts (its TLS files aside).
  const three = parseDoc(doc).blocks.find((b) => b.kind === 'skip' && b.text.includes('server_name: n1'));
  expect(three).toBeDefined();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'push-ens-nats-conf-'));
  try {
    fs.writeFileSync(path.join(tmp, 'auth.conf'), auth!.text);
    const conf = three!.text.replace(/\n\s*tls \{[^}]*\}/g, '');
    fs.writeFileSync(path.join(tmp, 'nats.conf'), conf);
    const r = spawnSync('nats-server', ['-t', '-c', path.join(tmp, 'nats.conf')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/configuration file .* is valid/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
