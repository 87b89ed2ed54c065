// loadPosterior(url): fetches an export's manifest and weights, treating both
// as untrusted (bounded reads, the manifest validated field by field, the
// weights' size and sha256 checked against it), picks a tfjs backend, and
// returns a posterior whose predict() matches Node's Posterior.predict.
import { tf } from '../util/tf';
import { PushInputError } from '../util/errors';
import type { ReducedPrediction } from '../bayes/predictive';
import { BrowserManifest, MANIFEST_FILE, MAX_MANIFEST_BYTES, littleEndianHost, validateManifest } from './format';
import { BrowserPredictOptions, PredictiveCore, particleArrays } from './core';
import type { BrowserInput } from './inputs';
import { sha256Hex } from './sha256';

export type BrowserBackend = 'webgl' | 'wasm' | 'cpu';
/** Tried in this order unless one is asked for: webgl on a real GPU, then wasm, then plain JS. */
export const BACKEND_ORDER: readonly BrowserBackend[] = ['webgl', 'wasm', 'cpu'];
/** Without a GPU (a software WebGL such as SwiftShader), wasm is many times faster than webgl. */
const SOFTWARE_GL_ORDER: readonly BrowserBackend[] = ['wasm', 'cpu', 'webgl'];

export interface LoadOptions {
  /** A backend, or 'auto' (default): the first of webgl, wasm, cpu that starts. */
  backend?: BrowserBackend | 'auto';
  /** Where the wasm backend's .wasm files are (default: the export folder). */
  wasmPaths?: string;
  /** fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
}

/** An exported posterior, loaded: predict() takes the same inputs, modes and options as Node's. */
export class BrowserPosterior {
  constructor(
    private readonly core: PredictiveCore,
    readonly backend: string,
    readonly url: string,
  ) {}

  get manifest(): BrowserManifest {
    return this.core.manifest;
  }

  get task(): 'regression' | 'classification' {
    return this.core.manifest.task;
  }

  get algorithm(): string {
    return this.core.manifest.algorithm;
  }

  get numParticles(): number {
    return this.core.numParticles;
  }

  predict(x: BrowserInput, opts: BrowserPredictOptions = {}): Promise<Record<string, ReducedPrediction>> {
    return this.core.predict(x, opts);
  }

  /** Tensors alive on the backend: flat across predictions unless something leaks. */
  numTensors(): number {
    return tf.memory().numTensors;
  }

  /** Frees the weights on the backend. */
  dispose(): void {
    this.core.dispose();
  }
}

/** `url`: the export folder (its posterior.json is read) or the manifest's own URL. */
export async function loadPosterior(url: string | URL, opts: LoadOptions = {}): Promise<BrowserPosterior> {
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const base = new URL(String(url), (globalThis as { location?: { href: string } }).location?.href);
  const manifestUrl = base.pathname.endsWith('.json') ? base : new URL(MANIFEST_FILE, base.href.endsWith('/') ? base : new URL(base.href + '/'));
  const name = manifestUrl.pathname.split('/').pop() || MANIFEST_FILE;
  if (!littleEndianHost()) throw new PushInputError('this platform stores numbers big-endian: push-ens exports are little-endian');
  const manifestBytes = await fetchBounded(doFetch, manifestUrl, name, MAX_MANIFEST_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch (err) {
    throw new PushInputError(`${name} is not valid JSON (${(err as Error).message.split('\n')[0]}): expected the manifest written by push-ens export`);
  }
  const manifest = validateManifest(parsed, name);
  const w = manifest.weights;
  const weightsUrl = new URL(w.file, manifestUrl);
  const bytes = await fetchBounded(doFetch, weightsUrl, w.file, w.bytes);
  if (bytes.length !== w.bytes) throw new PushInputError(`${w.file} is truncated: it holds ${bytes.length} bytes, the manifest says ${w.bytes}`);
  const digest = await sha256(bytes);
  if (digest !== w.sha256) throw new PushInputError(`${w.file} does not match the manifest: its sha256 is ${digest.slice(0, 12)}…, ${name} says ${w.sha256.slice(0, 12)}…`);
  const backend = await chooseBackend(opts.backend ?? 'auto', opts.wasmPaths ?? new URL('./', manifestUrl).href);
  return new BrowserPosterior(new PredictiveCore(manifest, particleArrays(manifest, bytes)), backend, manifestUrl.href);
}

/** The body of `url`, refused past `max` bytes (the header's length is not taken on faith). */
async function fetchBounded(doFetch: typeof fetch, url: URL, name: string, max: number): Promise<Uint8Array> {
  let res: Response;
  try {
    // A re-export replaces both files: a cached old weights file would not match the new manifest.
    const init: Record<string, unknown> = { cache: 'no-store' };
    res = await doFetch(url.href, init as RequestInit);
  } catch (err) {
    throw new PushInputError(`${name} could not be fetched (${(err as Error).message}): is the export folder served over http?`);
  }
  if (res.status === 404) throw new PushInputError(`${name} is missing (HTTP 404 at ${url.pathname}): expected the file written by push-ens export`);
  if (!res.ok) throw new PushInputError(`${name} could not be fetched: HTTP ${res.status}`);
  const tooBig = () => new PushInputError(`${name} is larger than ${max} bytes${name === MANIFEST_FILE ? '' : ', the size the manifest gives it'}: refused`);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) throw tooBig();
  if (!res.body) {
    const all = new Uint8Array(await res.arrayBuffer());
    if (all.length > max) throw tooBig();
    return all;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      throw tooBig();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return sha256Hex(bytes);
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

type WasmPathSetter = (prefix: string) => void;
let wasmPathSetter: WasmPathSetter | undefined;
let wasmPathsSet = false;

/** Registered by the bundle's entry, which imports the wasm backend (Node never needs it here). */
export function registerWasmPaths(setter: WasmPathSetter): void {
  wasmPathSetter = setter;
}

/** Starts the asked backend, or the first of BACKEND_ORDER that starts; its name. */
export async function chooseBackend(pref: BrowserBackend | 'auto', wasmPaths: string): Promise<string> {
  if (pref !== 'auto' && !BACKEND_ORDER.includes(pref)) throw new PushInputError(`backend ${JSON.stringify(pref)}: expected auto, ${BACKEND_ORDER.join(', ')}`);
  // The wasm backend reads its path once, when it first starts.
  if (wasmPathSetter && !wasmPathsSet) {
    wasmPathSetter(wasmPaths);
    wasmPathsSet = true;
  }
  const order = pref !== 'auto' ? [pref] : hardwareWebgl() ? BACKEND_ORDER : SOFTWARE_GL_ORDER;
  const failed: string[] = [];
  for (const name of order) {
    if (!tf.findBackendFactory(name)) {
      failed.push(`${name} (not in this bundle)`);
      continue;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
      failed.push(`${name} (did not start)`);
    } catch (err) {
      failed.push(`${name} (${(err as Error).message.split('\n')[0]})`);
    }
  }
  throw new PushInputError(`no tfjs backend started here: ${failed.join('; ')}`);
}

interface GlLike {
  RENDERER: number;
  getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null;
  getParameter(p: number): unknown;
}

/** Whether this page has WebGL drawn by a GPU, not by a software rasteriser. */
function hardwareWebgl(): boolean {
  const doc = (globalThis as { document?: { createElement(tag: string): { getContext(kind: string): unknown } } }).document;
  if (!doc) return false;
  try {
    const canvas = doc.createElement('canvas');
    const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as GlLike | null;
    if (!gl) return false;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    return !/swiftshader|llvmpipe|softpipe|software|basic render/i.test(renderer);
  } catch {
    return false;
  }
}
