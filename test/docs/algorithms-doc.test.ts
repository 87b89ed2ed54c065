// docs/ALGORITHMS.md's examples, run as written: the SGLD API example, the
// cyclical SGLD commands and the last-layer Laplace ones.
import * as path from 'node:path';
import { REPO, runDoc, scratchDir } from './doc-blocks';

jest.setTimeout(300_000); // about 15 s on an idle 2-core machine; shared machines are much slower

test('docs/ALGORITHMS.md: every marked example runs as written and prints output of the kind shown', async () => {
  const { dir, cleanup } = scratchDir('push-ens-algorithms-doc-');
  try {
    const { ran, skipped } = await runDoc(path.join(REPO, 'docs', 'ALGORITHMS.md'), dir);
    expect(skipped).toEqual([]);
    expect(ran.some((r) => r.endsWith('$ node sgld-example.cjs'))).toBe(true);
    expect(ran.filter((r) => /push-ens (train|predict)/.test(r))).toHaveLength(4);
  } finally {
    cleanup();
  }
});
