// docs/PERFORMANCE.md shows commands, not transcripts: benchmarks take minutes
// and print figures, and gpu-check needs a GPU. Every block is marked with why
// it is not run, and the commands it names exist.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, parseDoc } from './doc-blocks';

const DOC = path.join(REPO, 'docs', 'PERFORMANCE.md');

test('docs/PERFORMANCE.md: every block is marked, with a reason, and none is an unmarked transcript', () => {
  const { blocks, unmarked } = parseDoc(DOC);
  expect(unmarked).toEqual([]);
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  for (const b of blocks) {
    expect(b.kind).toBe('skip');
    if (b.kind === 'skip') expect(b.reason).toMatch(/benchmark|GPU/);
  }
});

test('docs/PERFORMANCE.md: the benchmark scripts it names exist, and the README links it', () => {
  const text = fs.readFileSync(DOC, 'utf8');
  const scripts = [...new Set([...text.matchAll(/dist\/bench\/([\w-]+)\.js/g)].map((m) => m[1]))];
  expect(scripts.length).toBeGreaterThanOrEqual(5);
  for (const name of scripts) expect(fs.existsSync(path.join(REPO, 'bench', `${name}.ts`))).toBe(true);
  expect(fs.existsSync(path.join(REPO, 'bench', 'gpu-check.sh'))).toBe(true);
  expect(fs.readFileSync(path.join(REPO, 'README.md'), 'utf8')).toContain('(docs/PERFORMANCE.md)');
});
