// A child process for checkpoint-dir.test.ts (run as `node checkpoint-child.js MODE ...`):
//   write DIR SAVES BYTES FILES  saves SAVES generations (0: until killed) of FILES files of
//                                BYTES bytes each, every byte of save i equal to i % 251;
//                                prints "saved i" after each
//   read DIR MS [any]            reads the checkpoint for MS ms; checks every file holds the
//                                bytes of the manifest's save (unless "any": a real
//                                checkpoint); prints {ok, failed, errors}
//   hold DIR                     takes DIR's lock, prints "locked", and waits to be killed
import { readCheckpointDir, writeCheckpointDir } from '../../src/bayes/checkpoint-dir';
import { acquireCheckpointLock } from '../../src/bayes/checkpoint-lock';

const [mode, dir, a, b, c] = process.argv.slice(2);

function save(i: number, bytes: number, files: number): void {
  const data = new Uint8Array(bytes).fill(i % 251);
  writeCheckpointDir(dir, { epoch: i }, Array.from({ length: files }, (_, k) => ({ name: `particle-${String(k).padStart(3, '0')}.params.f32`, data })));
}

if (mode === 'write') {
  const saves = Number(a);
  const bytes = Number(b);
  const files = Number(c);
  for (let i = 1; saves === 0 || i <= saves; i++) {
    save(i, bytes, files);
    process.stdout.write(`saved ${i}\n`);
  }
} else if (mode === 'read') {
  const until = Date.now() + Number(a);
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  while (Date.now() < until) {
    try {
      const r = readCheckpointDir(dir);
      const epoch = r.manifest.epoch as number;
      for (const f of b === 'any' ? [] : r.manifest.files) {
        const data = r.file(f.name);
        if (data[0] !== epoch % 251 || data[data.length - 1] !== epoch % 251) throw new Error(`file ${f.name} of save ${epoch} holds bytes of another save`);
      }
      ok++;
    } catch (err) {
      failed++;
      if (errors.length < 5) errors.push((err as Error).message);
    }
  }
  process.stdout.write(JSON.stringify({ ok, failed, errors }) + '\n');
} else if (mode === 'hold') {
  acquireCheckpointLock(dir);
  process.stdout.write('locked\n');
  setInterval(() => undefined, 1000);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
