// Real files in os.tmpdir() for the CSV tests; removed after each suite.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export class TempDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'push-ens-data-'));

  write(name: string, content: string): string {
    const file = path.join(this.dir, name);
    fs.writeFileSync(file, content);
    return file;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The message of the error `fn` throws; fails the test if it throws none or not a PushInputError. */
export function inputErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect((err as Error).name).toBe('PushInputError');
    return (err as Error).message;
  }
  throw new Error('expected a PushInputError, but nothing was thrown');
}

/** The repository's test/fixtures/data, from dist/test/data where the compiled tests run. */
export const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'data');
