// The committed kernel bytes are exactly what wabt assembles from the .wat source.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPTIM_WASM_BASE64 } from '../../src/nn/wasm/optim-bytes';
import { TRANSPOSE_WASM_BASE64 } from '../../src/nn/wasm/transpose-bytes';

// dist/test/nn -> repo root
const ROOT = join(__dirname, '..', '..', '..');

const KERNELS = [
  { wat: 'src/nn/wasm/optim.wat', bytes: OPTIM_WASM_BASE64 },
  { wat: 'src/nn/wasm/transpose.wat', bytes: TRANSPOSE_WASM_BASE64 },
];

test.each(KERNELS)('the committed bytes match $wat (run `npm run build:wasm` after editing the .wat)', async ({ wat, bytes }) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wabt = await (require('wabt') as () => Promise<WabtModule>)();
  const mod = wabt.parseWat(wat, readFileSync(join(ROOT, wat), 'utf8'), { simd: true });
  try {
    mod.resolveNames();
    mod.validate();
    const assembled = Buffer.from(mod.toBinary({ log: false, write_debug_names: false }).buffer);
    expect(assembled.toString('base64')).toBe(bytes);
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
