// The algorithm registry's promises, checked on the sources: one folder per
// algorithm, no algorithm named by string outside src/bayes/algorithms/, no
// import cycles anywhere in src/ and workers/, the registry loads without
// TensorFlow.js, and the CLI's flags and the API's options accept the same values.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ALGORITHMS, ALGORITHM_NAMES, algorithmNamed } from '../../src/bayes';
import { parseFlag, readOption, validValue } from '../../src/bayes/algorithms/schema';
import { show } from '../../src/cli/options';
import { PushInputError } from '../../src/util/errors';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ALGORITHMS_DIR = path.join(ROOT, 'src', 'bayes', 'algorithms');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a TS source: import/export ... from, import(), require() (type-only imports included). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'";]*?from\s*['"](\.[^'"]+)['"]|(?:require|import)\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    const base = path.resolve(path.dirname(file), m[1] ?? m[2]);
    const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
    if (hit) out.push(hit);
  }
  return out;
}

/** Every import cycle's files (strongly connected components of more than one file, or a file importing itself). */
function importCycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.map((f) => path.relative(ROOT, f)).sort());
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles;
}

test('the source has no import cycles (type-only imports count)', () => {
  const files = [...sources(path.join(ROOT, 'src')), ...sources(path.join(ROOT, 'workers'))];
  expect(files.length).toBeGreaterThan(50);
  expect(importCycles(files)).toEqual([]);
});

test('the cycle checker finds a cycle', () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'push-ens-cycle-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport type A = B;\n");
    fs.writeFileSync(path.join(dir, 'b.ts'), "export type B = number;\nexport const x = () => require('./a');\n");
    fs.writeFileSync(path.join(dir, 'c.ts'), "export { x } from './b';\n");
    expect(importCycles(sources(dir)).map((c) => c.map((f) => path.basename(f)))).toEqual([['a.ts', 'b.ts']]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no file outside src/bayes/algorithms/ names an algorithm in a string', () => {
  const names = ALGORITHM_NAMES.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const literal = new RegExp(`(['"\`])(${names})\\1`, 'g');
  const offenders: string[] = [];
  for (const file of sources(path.join(ROOT, 'src'))) {
    if (file.startsWith(ALGORITHMS_DIR + path.sep)) continue;
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!line.trim().startsWith('//') && literal.test(line)) offenders.push(`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
        literal.lastIndex = 0;
      });
  }
  expect(offenders).toEqual([]);
});

test('one folder per algorithm, with its definition and its device module', () => {
  expect(ALGORITHM_NAMES.slice(0, 4)).toEqual(['ensemble', 'mswag', 'svgd', 'mcdropout']);
  for (const a of ALGORITHMS) {
    expect(fs.existsSync(path.join(ALGORITHMS_DIR, a.name, 'index.ts'))).toBe(true);
    expect(fs.existsSync(path.join(ALGORITHMS_DIR, a.name, 'device.ts'))).toBe(true);
    expect(fs.existsSync(a.deviceModule)).toBe(true); // the compiled module workers load
    expect(algorithmNamed(a.name)).toBe(a);
  }
  expect(() => algorithmNamed('hmc')).toThrow(/algorithm "hmc": expected one of ensemble, mswag/);
});

test('the registry loads without TensorFlow.js (the CLI builds --help from it)', () => {
  const out = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'src', 'bayes', 'algorithms', 'registry.js'))}); console.log(Object.keys(require.cache).some((f) => f.includes('@tensorflow')))`], { encoding: 'utf8' });
  expect(out.trim()).toBe('false');
});

test('the CLI and the API accept the same values for every algorithm option (one schema)', () => {
  const texts = ['-1', '0', '1e-30', '0.5', '1', '2', '3', '20', '10001', 'median', '1.5'];
  for (const a of ALGORITHMS) {
    for (const spec of a.options) {
      if (spec.kind === 'boolean' || spec.apiOnly) continue;
      for (const text of texts) {
        const value = text === 'median' ? 'median' : Number(text);
        const api = validValue(spec, value);
        let cli = true;
        try {
          parseFlag(spec, text, show);
        } catch (err) {
          expect(err).toBeInstanceOf(PushInputError);
          expect((err as Error).message).toContain(spec.flag);
          cli = false;
        }
        expect({ flag: spec.flag, text, cli }).toEqual({ flag: spec.flag, text, cli: api });
        if (!api) expect(() => readOption({ [spec.key]: value }, spec, undefined)).toThrow(new RegExp(`^${spec.key.replace('.', '\\.')} `));
      }
    }
  }
});
