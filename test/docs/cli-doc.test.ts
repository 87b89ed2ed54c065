// docs/CLI.md's worked examples, run as written in one scratch directory, in order
// (later examples read the checkpoints earlier ones wrote).
import * as path from 'node:path';
import { REPO, runDoc, scratchDir } from './doc-blocks';

jest.setTimeout(480_000); // about 40 s on an idle 2-core machine; shared machines are much slower

test('docs/CLI.md: every shown command runs as written and prints output of the kind shown', async () => {
  const { dir, cleanup } = scratchDir('push-ens-cli-doc-');
  try {
    const { ran, skipped } = await runDoc(path.join(REPO, 'docs', 'CLI.md'), dir);
    for (const s of skipped) expect(s).toMatch(/another shell/);
    expect(ran.length).toBeGreaterThanOrEqual(20);
  } finally {
    cleanup();
  }
});
