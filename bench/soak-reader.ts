// A checkpoint reader for bench/soak: reads and verifies the checkpoint in DIR
// over and over (every file's size and sha256) while writers save into it, until
// its standard input closes; then prints {"ok": N, "failed": N, "errors": [...]}.
// A reader racing a writer must never see a healthy checkpoint as missing or corrupt.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpointDir } from '../src/bayes/checkpoint-dir';

const dir = process.argv[2];
let ok = 0;
let failed = 0;
const errors: string[] = [];
let stop = false;
process.stdin.on('end', () => (stop = true)).on('close', () => (stop = true)).resume();

function readOnce(): void {
  // Before the first save there is nothing to read yet.
  if (!fs.existsSync(path.join(dir, 'manifest.json'))) return;
  try {
    const reader = readCheckpointDir(dir);
    for (const f of reader.manifest.files) reader.file(f.name);
    ok++;
  } catch (err) {
    failed++;
    if (errors.length < 10) errors.push((err as Error).message);
  }
}

function loop(): void {
  if (stop) {
    process.stdout.write(JSON.stringify({ ok, failed, errors }) + '\n');
    return;
  }
  readOnce();
  setTimeout(loop, 5);
}
loop();
