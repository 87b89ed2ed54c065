// What messages carry between the coordinator and real device workers (threads
// and processes): every supported type round-trips exactly, the rest is refused
// with its path and leaves nothing pending, and only a module's own exported
// functions are handlers.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PushDist } from '../../src/runtime/coordinator';
import { WireTensor } from '../../src/runtime/wire';
import { PushHandlerError, PushInputError } from '../../src/util/errors';
import { tempDir } from '../cli/helpers';
import { HANDLERS, SMALL_MODEL } from './helpers';
import { expectExact, nest, sendableValues, unsendableValues } from './sendable-values';

const PROTOTYPE_NAMES = ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf', 'isPrototypeOf'];
const pendingCount = (dist: PushDist) => (dist as unknown as { pending: { size: number } }).pending.size;

describe.each(['thread', 'process'] as const)('messages with %s workers', (isolation) => {
  let dist: PushDist;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    // timeoutMs: a refused launch must not fire a timeout later.
    dist = await PushDist.create({ devices: 'cpu:0,cpu:1', model: SMALL_MODEL, handlers: HANDLERS, isolation, timeoutMs: 300 });
    for (let i = 0; i < 3; i++) dist.createParticle(); // 0 and 2 on cpu:0, 1 on cpu:1
  });

  afterAll(async () => {
    await dist.close();
    process.off('unhandledRejection', onUnhandled);
  });

  test('every supported type round-trips exactly through a worker', async () => {
    const values = sendableValues();
    const back = await dist.launch<unknown[]>(1, 'echo', ...values.map(([, v]) => v));
    expect(back).toHaveLength(values.length);
    values.forEach(([name, v], i) => expectExact(back[i], v, name));
  });

  test('the same values survive a handler-to-handler hop across devices and on one device', async () => {
    const values = sendableValues().map(([, v]) => v);
    expectExact(await dist.launch(0, 'relay', 1, 'echo', ...values), values);
    expectExact(await dist.launch(0, 'relay', 2, 'echo', ...values), values);
  });

  test('a WireTensor returned by a handler arrives as a WireTensor', async () => {
    const out = await dist.launch<{ t: WireTensor }>(1, 'makeWireTensor');
    expectExact(out.t, new WireTensor(Int32Array.from([1, 2, 3]), [3], 'int32'));
  });

  test('unsendable arguments reject with the argument and path; nothing stays pending; no timeout fires later', async () => {
    for (const [name, value, message] of unsendableValues()) {
      const err = await dist.launch(0, 'echo', 'fine', value).then(
        () => new Error(`${name} was sent`),
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(PushInputError);
      expect(err.message).toMatch(/^launch\("echo"\) argument 2/);
      expect(err.message).toMatch(message);
      expect(err.message).not.toMatch(/\n/);
    }
    await expect(dist.launchWithTimeout(0, 'echo', 5000, { cb: () => 1 })).rejects.toThrow(/^launch\("echo"\) argument 1 at \.cb: a function/);
    await expect(dist.launch(0, 'echo', nest(65))).rejects.toThrow(/nesting deeper than 64 levels/);
    expect(pendingCount(dist)).toBe(0);
    await new Promise((r) => setTimeout(r, 600)); // twice timeoutMs
    expect(unhandled).toEqual([]);
    expect(await dist.launch(0, 'echo', 'still fine')).toEqual(['still fine']);
  });

  test('createParticle refuses unsendable options at once and adds no particle', () => {
    expect(() => dist.createParticle({ state: { step: () => 1 } })).toThrow(/^createParticle options at \.state\.step: a function cannot be sent/);
    expect(dist.particleIds()).toEqual([0, 1, 2]);
  });

  test('a handler result that cannot be sent rejects its future naming the message and the path', async () => {
    await expect(dist.launch(1, 'returnFunction')).rejects.toThrow(
      /^handler "returnFunction" failed on particle 1 \(cpu:1\): the result of "returnFunction" at \.cb: a function cannot be sent/,
    );
    await expect(dist.launch(1, 'returnSymbol')).rejects.toThrow(PushHandlerError);
    await expect(dist.launch(1, 'returnSymbol')).rejects.toThrow(/the result of "returnSymbol" at \[0\]: a symbol cannot be sent/);
    // asked by another handler: across devices, and on the same device (no serialisation, same rule)
    expect(await dist.launch(0, 'askForFunction', 1)).toMatch(/the result of "returnFunction" at \.cb: a function cannot be sent/);
    expect(await dist.launch(0, 'askForFunction', 2)).toMatch(/the result of "returnFunction" at \.cb: a function cannot be sent/);
  });

  test('p.send refuses unsendable arguments across devices and on the same device', async () => {
    for (const to of [1, 2]) {
      expect(await dist.launch(0, 'sendUnsendable', to)).toMatch(
        new RegExp(`^PushInputError: p\\.send\\(${to}, "echo"\\) argument 1 at \\.bad\\.cb: a function cannot be sent`),
      );
    }
    expect(pendingCount(dist)).toBe(0);
  });

  test('Object.prototype names are not handlers, from the coordinator or from another handler', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const err = await dist.launch(0, name).then(
        () => new Error(`${name} ran`),
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(PushHandlerError);
      expect(err.message).toContain(`unknown message ${JSON.stringify(name)}: the handler modules export`);
      expect(err.message).toMatch(/\becho\b.*\bwhoami\b/);
      await expect(dist.launch(0, 'relay', 1, name)).rejects.toThrow(`unknown message ${JSON.stringify(name)}`);
    }
  });
});

describe('handler modules', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('handlers');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('ESM and CommonJS (module.exports object) modules: own exported functions are handlers, nothing else is', async () => {
    const esm = `data:text/javascript,${encodeURIComponent('export const ping = async () => "pong"; export const notAFunction = 3;')}`;
    const cjs = path.join(dir, 'handlers.cjs');
    // Built at run time, so only `default` carries these exports (no named exports detected).
    fs.writeFileSync(cjs, 'module.exports = Object.assign(Object.create({ inherited() { return "no"; } }), { hello: async (p, who) => `hello ${who} from ${p.pid}` });\n');
    const dist = await PushDist.create({ devices: 'cpu:0', model: SMALL_MODEL, handlers: [esm, cjs] });
    try {
      dist.createParticle();
      expect(await dist.launch(0, 'ping')).toBe('pong');
      expect(await dist.launch(0, 'hello', 'you')).toBe('hello you from 0');
      for (const name of ['notAFunction', 'inherited', ...PROTOTYPE_NAMES]) {
        await expect(dist.launch(0, name)).rejects.toThrow(new RegExp(`unknown message ${JSON.stringify(name)}: the handler modules export .*hello.*ping`));
      }
    } finally {
      await dist.close();
    }
  });
});

test('a process that launches unsendable arguments (with timeoutMs set) closes cleanly: exit code 0, no unhandled rejection', () => {
  const script = path.resolve(__dirname, '..', 'fixtures', 'bad-launch.js');
  const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
  expect(run.stderr).not.toMatch(/unhandled/i);
  expect(run.status).toBe(0);
  const lines = run.stdout.trim().split('\n');
  expect(lines.slice(0, 5)).toEqual([
    expect.stringMatching(/^PushInputError: launch\("echo"\) argument 1: a symbol cannot be sent/),
    expect.stringMatching(/^PushInputError: launch\("echo"\) argument 1 at \.self: circular reference/),
    expect.stringMatching(/^PushInputError: launch\("echo"\) argument 1 at \.next\.next.*: nesting deeper than 64 levels/),
    expect.stringMatching(/^PushInputError: launch\("echo"\) argument 1: the BigInt .* is outside the range/),
    expect.stringMatching(/^PushInputError: launch\("echo"\) argument 1: a function cannot be sent/),
  ]);
  expect(lines.slice(5)).toEqual(['echo: ["still fine"]', 'closed']);
});
