// No code crosses the wire: a coordinator asks a worker host for handler
// modules by name, and the host loads only push-ens's own modules and the ones
// its operator listed with --handlers. push-ens's own module
// dist/src/bayes/handlers.js is "push-ens:bayes/handlers.js"; any other module
// is its file name without extension ("my-handlers" for /x/my-handlers.mjs).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PushInputError } from '../../util/errors';

/** dist/src: push-ens's compiled sources, the same on every host with the same version. */
const SRC_ROOT = path.resolve(__dirname, '..', '..');
const BUILTIN = 'push-ens:';
const BUILTIN_PATH = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*\.(js|cjs|mjs)$/;
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/** The names a coordinator sends for its handler module URLs. */
export function remoteHandlerNames(urls: readonly string[], device: string): string[] {
  return urls.map((url) => {
    if (!url.startsWith('file:')) throw new PushInputError(`handler module ${url.slice(0, 60)} cannot run on remote device ${device}: a worker host loads only modules installed on it (no code over the wire)`);
    const file = fileURLToPath(url);
    const rel = path.relative(SRC_ROOT, file);
    if (!rel.startsWith('..') && !path.isAbsolute(rel) && BUILTIN_PATH.test(rel.split(path.sep).join('/'))) return BUILTIN + rel.split(path.sep).join('/');
    return moduleName(file);
  });
}

export function moduleName(file: string): string {
  return path.basename(file).replace(/\.(c|m)?js$/, '');
}

/** A worker host's allowed modules: name -> file URL, from its --handlers paths (which must exist). */
export function allowedHandlers(paths: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const p of paths) {
    const file = path.resolve(p);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new PushInputError(`--handlers ${JSON.stringify(p)}: no such file`);
    const name = moduleName(file);
    if (!NAME_PATTERN.test(name)) throw new PushInputError(`--handlers ${JSON.stringify(p)}: the module name ${JSON.stringify(name)} must be letters, digits, '.', '-' or '_'`);
    if (map.has(name)) throw new PushInputError(`--handlers lists two modules named ${JSON.stringify(name)}: module names must be unique`);
    map.set(name, pathToFileURL(file).href);
  }
  return map;
}

/** Resolves the names a coordinator asked for on this host; one line naming the first it lacks. */
export function resolveHandlerNames(names: unknown, allowed: ReadonlyMap<string, string>, host: string): string[] {
  if (!Array.isArray(names) || names.length > 64) throw new PushInputError('the init message names no valid handler module list');
  return names.map((n: unknown) => {
    if (typeof n !== 'string' || n.length > 300) throw new PushInputError('the init message names a handler module that is not a short string');
    if (n.startsWith(BUILTIN)) {
      const rel = n.slice(BUILTIN.length);
      const file = path.join(SRC_ROOT, ...rel.split('/'));
      if (!BUILTIN_PATH.test(rel) || !fs.existsSync(file)) throw new PushInputError(`worker host ${host} has no push-ens module ${JSON.stringify(rel)}: install the same push-ens version on both sides`);
      return pathToFileURL(file).href;
    }
    const url = allowed.get(n);
    if (!url) {
      const list = allowed.size ? [...allowed.keys()].join(', ') : 'none';
      throw new PushInputError(`worker host ${host} has no handler module ${JSON.stringify(n)} (its --handlers: ${list})`);
    }
    return url;
  });
}
