// Handler modules of both kinds load in a user's project: ESM (.mjs, or .js in a
// "type": "module" package) and CommonJS (.cjs, or .js with module.exports); a
// .js with ESM `export` in a CommonJS package is refused with one line saying what to change.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PushDist } from '../../src/runtime/coordinator';
import { PushInputError } from '../../src/util/errors';
import { scratchDir } from '../docs/doc-blocks';

jest.setTimeout(60_000);

const ESM = 'export async function double(p, v) { return 2 * v; }\n';
const CJS = 'exports.double = async function double(p, v) { return 2 * v; };\n';

const cases: [kind: string, pkgType: string | undefined, file: string, text: string][] = [
  ['ESM .mjs', undefined, 'handlers.mjs', ESM],
  ['ESM .js in a "type": "module" package', 'module', 'handlers.js', ESM],
  ['CommonJS .cjs in a "type": "module" package', 'module', 'handlers.cjs', CJS],
  ['CommonJS .js in a CommonJS package', 'commonjs', 'handlers.js', CJS],
];

let scratch: ReturnType<typeof scratchDir>;
beforeAll(() => (scratch = scratchDir('push-ens-handlers-')));
afterAll(() => scratch.cleanup());

function project(name: string, pkgType: string | undefined, file: string, text: string): string {
  const dir = path.join(scratch.dir, name);
  fs.mkdirSync(dir);
  if (pkgType) fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: pkgType }));
  fs.writeFileSync(path.join(dir, file), text);
  return path.join(dir, file);
}

test.each(cases)('%s: its exported functions are handlers', async (kind, pkgType, file, text) => {
  const handlers = project(kind.replace(/\W+/g, '-'), pkgType, file, text);
  const dist = await PushDist.create({ model: { format: 'push-ens/sequential', inputShape: [2], layers: [{ type: 'dense', units: 1 }] }, handlers });
  try {
    const pid = dist.createParticle();
    await expect(dist.launch(pid, 'double', 21)).resolves.toBe(42);
  } finally {
    await dist.close();
  }
});

test('a handlers.js with ESM `export` in a CommonJS package (npm init -y) says which to use', async () => {
  const handlers = project('npm-init', 'commonjs', 'handlers.js', ESM);
  const create = PushDist.create({ model: { format: 'push-ens/sequential', inputShape: [2], layers: [{ type: 'dense', units: 1 }] }, handlers });
  const err = await create.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PushInputError);
  const message = (err as Error).message;
  expect(message).not.toContain('\n');
  expect(message).toMatch(/handlers\.js uses ESM `export`.* but its package is CommonJS: rename it to handlers\.mjs or add "type": "module" to its package\.json, or use module\.exports/);
});
