// V8 code cache for push-ens's own CommonJS modules and its dependencies, so
// that each process and device thread does not parse and compile TensorFlow.js
// again: about a fifth of the instructions from process start to the first
// training step (callgrind, docs/PERFORMANCE.md). Node 22 has this built in
// (module.enableCompileCache), which is used where it exists; on Node 20 the
// CommonJS loader's compile step is wrapped, as v8-compile-cache does.
//
// Entries live in a directory private to the user under the OS temp dir, one
// per module path, and hold the SHA-1 of the source they were made from: an
// entry for other source is ignored and rewritten. V8 itself rejects data from
// another V8 version or other flags. Entries are written to a temporary name
// and renamed. PUSH_ENS_COMPILE_CACHE=0 turns the cache off.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import Module = require('node:module');
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { isMainThread, threadId } from 'node:worker_threads';

/** The package root: modules under it and in any node_modules are cached, user code elsewhere is not. */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;
const HASH_BYTES = 20;

interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
}
type Compile = (this: CjsModule, content: string, filename: string) => unknown;
interface ModuleStatics {
  prototype: { _compile: Compile };
  wrap(source: string): string;
  _resolveFilename(request: string, parent: CjsModule, isMain: boolean, options?: unknown): string;
  _resolveLookupPaths(request: string, parent: CjsModule): string[] | null;
  _extensions: unknown;
  _cache: unknown;
  enableCompileCache?: (dir?: string) => unknown;
}

let cacheDir: string | null | undefined;
/** The loader's own compile step, while ours wraps it. */
let originalCompile: Compile | undefined;
/** Scripts compiled without usable cached data, to be written by flushCompileCache. */
const pending: { script: vm.Script; file: string; hash: Buffer }[] = [];

/** Installs the cache in this thread, once; does nothing when it is off or its directory is unsafe. */
export function installCompileCache(): void {
  if (cacheDir !== undefined) return;
  cacheDir = process.env.PUSH_ENS_COMPILE_CACHE === '0' ? null : privateDir();
  if (!cacheDir) return;
  const M = Module as unknown as ModuleStatics;
  if (typeof M.enableCompileCache === 'function') {
    M.enableCompileCache(cacheDir);
    cacheDir = null; // Node writes its own entries
    return;
  }
  const original = M.prototype._compile;
  originalCompile = original;
  const dir = cacheDir;
  // Worker threads may be terminated without an exit event: the device worker flushes after its start-up.
  if (isMainThread) process.once('exit', flushCompileCache);
  M.prototype._compile = function (this: CjsModule, content: string, filename: string): unknown {
    // A module that uses import() needs Node's own dynamic-import hook, which vm.Script only has experimentally.
    const ours = filename.startsWith(ROOT + path.sep) || filename.includes(NODE_MODULES);
    if (!ours || content.includes('import(')) return original.call(this, content, filename);
    return compileCached(this, content, filename, dir, M);
  };
}

function compileCached(mod: CjsModule, content: string, filename: string, dir: string, M: ModuleStatics): unknown {
  const hash = createHash('sha1').update(content).digest();
  const file = path.join(dir, createHash('sha1').update(filename).digest('hex'));
  let cachedData: Buffer | undefined;
  try {
    const entry = fs.readFileSync(file);
    if (entry.length > HASH_BYTES && entry.subarray(0, HASH_BYTES).equals(hash)) cachedData = entry.subarray(HASH_BYTES);
  } catch {
    /* no entry yet */
  }
  // A shebang line is not JavaScript inside the wrapper: comment it out (same length, so positions hold).
  const source = content.startsWith('#!') ? `//${content.slice(2)}` : content;
  const script = new vm.Script(M.wrap(source), { filename, cachedData });
  if (!cachedData || script.cachedDataRejected) pending.push({ script, file, hash });
  const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
  const mainModule = require.main;
  const moduleRequire = Object.assign((id: string) => mod.require(id), {
    resolve: Object.assign((request: string, options?: unknown) => M._resolveFilename(request, mod, false, options), {
      paths: (request: string) => M._resolveLookupPaths(request, mod),
    }),
    main: mainModule,
    extensions: M._extensions,
    cache: M._cache,
  });
  return fn.call(mod.exports, mod.exports, moduleRequire, mod, filename, path.dirname(filename));
}

/**
 * Puts the loader's own compile step back and writes the pending entries. A
 * device worker calls it before it imports user handler modules: Node 20.19+
 * loads a .js file with ESM syntax in a CommonJS package as ESM (and its
 * errors name the fix) only while the loader's compile step is its own.
 */
export function endCompileCache(): void {
  if (originalCompile) {
    (Module as unknown as ModuleStatics).prototype._compile = originalCompile;
    originalCompile = undefined;
  }
  flushCompileCache();
}

/**
 * Writes the cache entries of the modules this thread compiled without one.
 * Call it once the thread has loaded what it needs (and run it once), so the
 * entries hold the functions compiled lazily as well.
 */
export function flushCompileCache(): void {
  for (const { script, file, hash } of pending.splice(0)) {
    const tmp = `${file}.${process.pid}-${threadId}.tmp`;
    try {
      fs.writeFileSync(tmp, Buffer.concat([hash, script.createCachedData()]), { mode: 0o600 });
      fs.renameSync(tmp, file);
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  }
}

/** `<tmp>/push-ens-v8-cache-<uid>/<node version>-<V8 tag>`, made 0700; null unless it is a directory this user owns and only this user can write. */
function privateDir(): string | null {
  try {
    const uid = process.getuid?.() ?? 0;
    const base = path.join(os.tmpdir(), `push-ens-v8-cache-${uid}`);
    fs.mkdirSync(base, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(base);
    if (!st.isDirectory() || (process.getuid && st.uid !== uid) || (st.mode & 0o077) !== 0) return null;
    const dir = path.join(base, `${process.version}-${v8.cachedDataVersionTag()}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  } catch {
    return null;
  }
}
