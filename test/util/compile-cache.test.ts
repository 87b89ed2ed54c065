// The V8 code cache of src/util/compile-cache.ts, in fresh Node processes (it
// wraps the CommonJS loader, which jest's own module system bypasses): modules
// behave as without it, entries are written once and reused, and an entry made
// from other source is not used.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const INSTALL = path.resolve(__dirname, '..', '..', 'src', 'util', 'compile-cache-install.js');
const CACHE = path.resolve(__dirname, '..', '..', 'src', 'util', 'compile-cache.js');

describe('compile cache', () => {
  let tmp: string;
  let demo: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'compile-cache-test-'));
    demo = path.join(tmp, 'node_modules', 'demo');
    fs.mkdirSync(demo, { recursive: true });
    fs.writeFileSync(path.join(demo, 'helper.js'), 'exports.twice = (x) => 2 * x;\n');
    writeIndex('A');
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const writeIndex = (tag: string) =>
    fs.writeFileSync(
      path.join(demo, 'index.js'),
      `#!/usr/bin/env node\nconst { twice } = require('./helper');\nmodule.exports = { tag: '${tag}', six: twice(3), file: __filename, dir: __dirname, resolved: require.resolve('./helper'), isThis: this === module.exports };\n`,
    );

  /** Loads the demo module in a fresh process with the cache installed; its exports and the cache's entry files. */
  function run(env: Record<string, string> = {}) {
    const script = `require(${JSON.stringify(INSTALL)}); const m = require(${JSON.stringify(demo)}); require(${JSON.stringify(CACHE)}).flushCompileCache(); console.log(JSON.stringify(m));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp, ...env } });
    expect(r.stderr).toBe('');
    const base = path.join(tmp, `push-ens-v8-cache-${process.getuid?.() ?? 0}`);
    const dir = fs.existsSync(base) ? path.join(base, fs.readdirSync(base)[0]) : undefined;
    const entries = dir ? fs.readdirSync(dir).map((f) => ({ f, bytes: fs.readFileSync(path.join(dir, f)) })) : [];
    return { out: JSON.parse(r.stdout), entries, base };
  }

  test('modules load as without the cache; entries are written once, then reused', () => {
    const first = run();
    expect(first.out).toEqual({ tag: 'A', six: 6, file: path.join(demo, 'index.js'), dir: demo, resolved: path.join(demo, 'helper.js'), isThis: true });
    expect(first.entries).toHaveLength(2); // index.js and helper.js
    expect(fs.statSync(first.base).mode & 0o777).toBe(0o700);
    const second = run();
    expect(second.out).toEqual(first.out);
    expect(second.entries).toEqual(first.entries); // accepted, so not rewritten
  });

  test('an entry made from other source (same length) is not used, and is replaced', () => {
    const first = run();
    writeIndex('B');
    const second = run();
    expect(second.out.tag).toBe('B');
    const changed = second.entries.filter((e, i) => !e.bytes.equals(first.entries[i].bytes));
    expect(changed).toHaveLength(1);
  });

  test('PUSH_ENS_COMPILE_CACHE=0 turns it off', () => {
    const r = run({ PUSH_ENS_COMPILE_CACHE: '0' });
    expect(r.out.six).toBe(6);
    expect(fs.existsSync(r.base)).toBe(false);
  });
});
