// README.md's examples, run as written: the API example (ESM and CommonJS) and
// every CLI command whose output it shows.
import * as path from 'node:path';
import { REPO, outputMismatch, parseDoc, runDoc, scratchDir, skeleton } from './doc-blocks';

jest.setTimeout(300_000); // about 20 s on an idle 2-core machine; shared machines are much slower

test('README.md: every marked example runs as written and prints output of the kind shown', async () => {
  const { dir, cleanup } = scratchDir('push-ens-readme-');
  try {
    const { ran, skipped } = await runDoc(path.join(REPO, 'README.md'), dir);
    expect(skipped).toEqual([]);
    expect(ran.some((r) => r.endsWith('$ node example.mjs'))).toBe(true);
    expect(ran.some((r) => r.endsWith('$ node example.cjs'))).toBe(true);
    expect(ran.filter((r) => /push-ens train/.test(r))).toHaveLength(4);
  } finally {
    cleanup();
  }
});

test('README.md: the API example shows complete files, with close() and no `await using`', () => {
  const files = parseDoc(path.join(REPO, 'README.md')).blocks.filter((b) => b.kind === 'file');
  expect(files.map((b) => (b.kind === 'file' ? b.name : '')).sort()).toEqual(['browser-example.html', 'example.cjs', 'example.mjs', 'handlers.cjs', 'handlers.mjs']);
  for (const b of files) expect(b.text).not.toMatch(/await using/);
});

test('a changed column, a missing key or a missing line is a mismatch; other digits are not', () => {
  const table = ['            train loss  test rmse  test nll', 'BMA                  -    0.06882    -1.214'];
  const same = { code: 0, stdout: '', output: '            train loss  test rmse  test nll\nBMA                  -     0.1    -12.5\n' };
  expect(outputMismatch(table, same)).toBeUndefined();
  expect(outputMismatch(table, { ...same, output: same.output.replace('test nll', 'test mae') })).toMatch(/expected a line like/);
  expect(outputMismatch(['{"a": 1, "b": {"c": 2}}'], { code: 0, output: '', stdout: '{"a": 5, "b": {"c": 3}}' })).toBeUndefined();
  expect(outputMismatch(['{"a": 1, "b": {"c": 2}}'], { code: 0, output: '', stdout: '{"a": 5, "b": {"d": 3}}' })).toMatch(/\.b: expected keys c, got d/);
  expect(skeleton('0,1.8854297,-0.01,1e-5,1')).toBe('#,#,#,#,#');
  expect(skeleton('trained epochs 1-10: 1,600 particle-steps in 0.98 s')).toBe(skeleton('trained epochs 1-10: 640 particle-steps in 10.5 s'));
});
