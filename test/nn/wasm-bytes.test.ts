// The committed kernel bytes are exactly what wabt assembles from the .wat source.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPTIM_WASM_BASE64 } from '../../src/nn/wasm/optim-bytes';

// dist/test/nn -> repo root
const ROOT = join(__dirname, '..', '..', '..');

test('src/nn/wasm/optim-bytes.ts matches optim.wat (run `npm run build:wasm` after editing the .wat)', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wabt = await (require('wabt') as () => Promise<WabtModule>)();
  const file = 'src/nn/wasm/optim.wat';
  const mod = wabt.parseWat(file, readFileSync(join(ROOT, file), 'utf8'), { simd: true });
  try {
    mod.resolveNames();
    mod.validate();
    const assembled = Buffer.from(mod.toBinary({ log: false, write_debug_names: false }).buffer);
    expect(assembled.toString('base64')).toBe(OPTIM_WASM_BASE64);
  } finally {
    mod.destroy();
  }
});

interface WabtModule {
  parseWat(file: string, text: string, features: { simd: boolean }): {
    resolveNames(): void;
    validate(): void;
    toBinary(opts: { log: boolean; write_debug_names: boolean }): { buffer: Uint8Array };
    destroy(): void;
  };
}
