// docs/UNCERTAINTY-methods.md's example, run as written; its output is deterministic, so the digits are checked too.
import * as path from 'node:path';
import { REPO, parseDoc, runCommand, runDoc, scratchDir, transcriptSteps } from './doc-blocks';

jest.setTimeout(120_000);

test('docs/UNCERTAINTY-methods.md: the example runs as written and prints exactly the numbers shown', async () => {
  const doc = path.join(REPO, 'docs', 'UNCERTAINTY-methods.md');
  const { dir, cleanup } = scratchDir('push-ens-uq-doc-');
  try {
    const { ran, skipped } = await runDoc(doc, dir);
    expect(skipped).toEqual([]);
    expect(ran.some((r) => r.endsWith('$ node uq.mjs'))).toBe(true);
    const run = parseDoc(doc).blocks.find((b) => b.kind === 'run')!;
    const [step] = transcriptSteps(run.text);
    const result = await runCommand(step.command, dir);
    expect(result.stdout.trim().split('\n')).toEqual(step.expected);
  } finally {
    cleanup();
  }
});
