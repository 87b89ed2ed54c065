// A 3-node nats-server cluster loses the server the coordinator is connected
// to in the middle of a run: clients fail over to the other servers, chunks lost
// with the server are sent again, and the run ends with the undisturbed result.
import { trainDeepEnsemble } from '../../src/bayes';
import { dense } from '../../src/nn';
import { regressionData } from '../bayes/helpers';
import { NatsServer, startNatsCluster, startWorker, stopAll } from './harness';

jest.setTimeout(120_000);

let servers: NatsServer[];

beforeAll(async () => {
  servers = await startNatsCluster(3);
});

afterAll(async () => {
  await stopAll();
});

test('killing the coordinator\'s server of a 3-node cluster mid-run: clients fail over and the result equals an undisturbed run', async () => {
  const urls = servers.map((s) => s.url);
  const data = regressionData(64, 5);
  const base = { model: dense([3, 12, 1]), data, epochs: 12, batchSize: 8, particles: 4, seed: 9 };
  const local = await trainDeepEnsemble({ ...base, devices: 'cpu:0' });
  const expected = await local.particleParameters();
  await local.close();

  const workers = await Promise.all([startWorker(urls, 'hostF1', 'cpu:0'), startWorker(urls, 'hostF2', 'cpu:0')]);
  let killed: NatsServer | undefined;
  let kill: Promise<void> | undefined;
  let lastEpoch = 0;
  let killedAfter = Infinity;
  const post = await trainDeepEnsemble({
    ...base,
    devices: 'hostF1/cpu:0,hostF2/cpu:0',
    nats: { servers: urls, deadlineMs: 8000 },
    onEpoch: ({ epoch }) => {
      lastEpoch = epoch;
      if (epoch !== 2 || kill) return;
      // Not awaited: the server dies while the next epochs' frames are in flight.
      kill = (async () => {
        const names = await Promise.all(servers.map((s) => s.connectionNames()));
        killed = servers[names.findIndex((n) => n.some((c) => c.startsWith('push-ens coordinator')))];
        await killed.stop('SIGKILL');
        killedAfter = lastEpoch;
      })();
    },
  });
  try {
    await kill;
    expect(killed).toBeDefined();
    expect(killedAfter).toBeLessThan(base.epochs); // mid-run
    const got = await post.particleParameters();
    for (let k = 0; k < 4; k++) expect(Array.from(got[k])).toEqual(Array.from(expected[k]));
    // The coordinator now talks through one of the surviving servers.
    const names = await Promise.all(servers.filter((s) => s !== killed).map((s) => s.connectionNames()));
    expect(names.flat().some((c) => c.startsWith('push-ens coordinator'))).toBe(true);
  } finally {
    await post.close();
  }
  expect(workers.every((w) => w.proc.exitCode === null)).toBe(true);
});
