import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** push-ens's version, from package.json (dist/src/cli -> the package root). */
export function packageVersion(): string {
  if (cached) return cached;
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'push-ens' && pkg.version) return (cached = pkg.version);
    } catch {
      /* try the next */
    }
  }
  return (cached = '0.0.0');
}
