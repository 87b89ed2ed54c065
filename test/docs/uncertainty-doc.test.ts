// docs/UNCERTAINTY.md's tour, run as written in one scratch directory, in order
// (later commands read the checkpoints earlier ones wrote).
import * as path from 'node:path';
import { REPO, runDoc, scratchDir } from './doc-blocks';

jest.setTimeout(300_000); // under a minute on an idle 2-core machine; shared machines are much slower

test('docs/UNCERTAINTY.md: every shown command runs as written and prints output of the kind shown', async () => {
  const { dir, cleanup } = scratchDir('push-ens-uq-tour-');
  try {
    const { ran, skipped } = await runDoc(path.join(REPO, 'docs', 'UNCERTAINTY.md'), dir);
    expect(skipped).toEqual([]);
    expect(ran.length).toBeGreaterThanOrEqual(13);
    expect(ran.some((r) => r.endsWith('$ node uq-api.mjs'))).toBe(true);
  } finally {
    cleanup();
  }
});
