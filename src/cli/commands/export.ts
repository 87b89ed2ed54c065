// `push-ens export`: a checkpoint as a static folder that predicts with
// uncertainty in the browser: the particles' weights (one stacked file,
// float32 or float16), a manifest with their sizes and sha256, the page bundle
// (our predictive code and tfjs), the wasm backend's binaries, and an
// index.html chosen by task. --serve serves the folder on loopback.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Command } from 'commander';
import { PushInputError } from '../../util/errors';
import type { ModeOf } from '../common';
import { addOutputFlags } from '../common';
import { Log, OutputMode, emitResult, tempSibling } from '../output';
import { checkOutputPath, parseInteger, show } from '../options';
import { loadSplit } from '../data';
import type { StoredData } from '../data';
import type * as Engine from '../engine';
import { engine } from '../lazy';
import { BROWSER_FORMAT, BROWSER_FORMAT_VERSION, BrowserManifest, ExportPlan, MANIFEST_FILE, WEIGHTS_FILE, littleEndianHost, validateManifest } from '../../browser/format';
import type * as Core from '../../browser/core';
import type * as Tf from '../../util/tf';
import { packWeights } from '../export/weights';
import { DemoChoice, buildDemo } from '../export/demo';
import { PAGE_BUNDLE, indexHtml } from '../export/page-html';
import { serveFolder } from '../export/serve';
import { Rng } from '../../util/rng';
import { packageVersion } from '../version';
import type { Dataset } from '../../data/dataset';

interface ExportFlags {
  checkpoint?: string;
  out?: string;
  data?: string;
  float16?: boolean;
  serve?: boolean;
  port?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
/** dist/src/cli/commands -> dist/browser, where npm run build puts the bundles. */
const BUNDLE_DIR = path.resolve(__dirname, '..', '..', '..', 'browser');

export function registerExport(program: Command, modeOf: ModeOf): void {
  const cmd = program
    .command('export')
    .summary('a checkpoint as a static web page that predicts with uncertainty in the browser')
    .description(
      'Write a self-contained static folder: the particles\' weights, a manifest with their sizes and sha256, ' +
        'the push-ens browser bundle (tfjs inside, webgl, wasm and cpu backends) and an index.html chosen by task: ' +
        '1-D regression (data, BMA mean, ±2 std band, each member\'s curve), 2-D classification (heat maps of the BMA ' +
        'probability and of the mutual information) or 28×28 images (draw a digit). Open it through any static file ' +
        'server, or with --serve. The checkpoint is verified first; a corrupt one is refused.',
    )
    .requiredOption('-c, --checkpoint <dir>', 'checkpoint directory written by push-ens train --out')
    .requiredOption('-o, --out <dir>', 'folder to write (new, empty, or an earlier export with --force)')
    .option('--data <spec>', "data for the page's points (default: the checkpoint's training data, if it names it)")
    .option('--float16', 'store weights as float16 (half the size); prints how much the predictions move')
    .option('--serve', 'then serve the folder on 127.0.0.1 until interrupted')
    .option('--port <n>', 'port for --serve (default: 8080; 0 picks a free one)')
    .option('--force', 'replace an earlier export in --out');
  addOutputFlags(cmd);
  cmd.action(async (flags: ExportFlags) => runExport(flags, modeOf(flags)));
}

export async function runExport(flags: ExportFlags, mode: OutputMode): Promise<void> {
  const log = new Log(mode);
  if (flags.port !== undefined && !flags.serve) throw new PushInputError('--port applies to --serve: add --serve to serve the folder');
  const port = flags.port !== undefined ? parseInteger('--port', flags.port, 0, 65535) : 8080;
  const info = engine().readCheckpointInfo('--checkpoint', flags.checkpoint!);
  if (info.info.model.format !== 'push-ens/sequential') {
    throw new PushInputError(`--checkpoint ${show(flags.checkpoint)} holds a tfjs-layers model: export takes push-ens/sequential models (the browser bundle has no tfjs-layers)`);
  }
  const earlier = fs.existsSync(path.join(flags.out!, MANIFEST_FILE));
  if (earlier && !flags.force) throw new PushInputError(`--out ${show(flags.out)} already holds an export: pass --force to replace it`);
  if (!earlier && fs.statSync(flags.out!, { throwIfNoEntry: false })?.isDirectory() && fs.readdirSync(flags.out!).length > 0) {
    throw new PushInputError(`--out ${show(flags.out)} exists and is not a push-ens export: expected a new or empty folder`);
  }
  const out = checkOutputPath('--out', flags.out!, { kind: 'dir', overwrite: !!flags.force, isOurs: (p) => fs.existsSync(path.join(p, MANIFEST_FILE)) });
  const bundle = path.join(BUNDLE_DIR, PAGE_BUNDLE);
  if (!fs.existsSync(bundle)) throw new Error(`the browser bundle ${bundle} is missing: run npm run build`);
  if (!littleEndianHost()) throw new PushInputError('this machine is big-endian: push-ens exports are little-endian');
  const data = pageData(info, flags.data, log);
  const choice = buildDemo(info, data.stored, data.sets);
  const plan = engine().checkpointExportPlan(info);
  const storage = flags.float16 ? 'float16' : 'float32';
  const packed = packWeights(plan, storage);
  const manifest = manifestOf(info, plan, choice, packed, storage, data.stored);
  validateManifest(JSON.parse(JSON.stringify(manifest))); // what the page will check, checked here first

  const accuracy = flags.float16 ? await float16Effect(manifest, packWeights(plan, 'float32'), packed.bytes, choice) : undefined;
  const files = writeFolder(out, manifest, packed.bytes, bundle);
  const sizes = Object.fromEntries(files.map((f) => [f, fs.statSync(path.join(out, f)).size]));
  const wasmBytes = WASM_FILES.reduce((s, f) => s + sizes[f], 0);
  const summary = {
    command: 'export',
    checkpoint: flags.checkpoint,
    out,
    demo: manifest.demo.kind,
    algo: info.algo,
    sampling: plan.sampling,
    particles: info.particles,
    weights: { storage, bytes: packed.bytes.length },
    bundleBytes: sizes[PAGE_BUNDLE],
    wasmBytes,
    files: sizes,
    ...(accuracy ? { float16: accuracy } : {}),
  };
  const text = () =>
    [
      `wrote ${flags.out}: index.html (${manifest.demo.kind} page), ${MANIFEST_FILE}, ${WEIGHTS_FILE} ${kb(packed.bytes.length)} ${storage}, ${PAGE_BUNDLE} ${kb(sizes[PAGE_BUNDLE])}, ${WASM_FILES.length} .wasm files ${kb(wasmBytes)}`,
      ...(accuracy ? [float16Line(accuracy)] : []),
      flags.serve ? '' : `open it through a static file server (push-ens export ... --serve, or any other): file:// pages cannot load their weights`,
    ]
      .filter((l) => l !== '')
      .join('\n');
  if (!flags.serve) {
    emitResult(mode, summary, text);
    return;
  }
  const served = await serveFolder(out, port);
  emitResult(mode, { ...summary, url: served.url }, () => `${text()}\nserving ${flags.out} at ${served.url} on loopback only (Ctrl-C stops)`);
  log.debug(`serving ${out}`);
  await new Promise<never>(() => undefined); // until a signal ends the process
}

/**
 * The points and axis names the page draws: from --data, or the checkpoint's own data when it
 * names it. Without --data, data that cannot be read any more (a moved CSV) only costs the points.
 */
function pageData(info: Engine.CheckpointInfo, dataFlag: string | undefined, log: Log): { stored?: StoredData; sets?: { train: Dataset; test?: Dataset } } {
  if (!info.stored && dataFlag === undefined) {
    log.info(`checkpoint ${info.dir} does not name its data: the page shows no data points (pass --data SPEC for them)`);
    return {};
  }
  try {
    const stored = engine().requireStoredData(info, dataFlag);
    const spec = dataFlag ?? stored.spec;
    const { train, test } = loadSplit(spec, stored, 'all');
    engine().checkInputsFit(spec, train.xShape, info);
    return { stored, sets: { train, test } };
  } catch (err) {
    if (dataFlag !== undefined || !(err instanceof PushInputError)) throw err;
    log.warn(`the page shows no data points: ${err.message}`);
    return { stored: info.stored };
  }
}

function manifestOf(info: Engine.CheckpointInfo, plan: ExportPlan, choice: DemoChoice, packed: ReturnType<typeof packWeights>, storage: 'float32' | 'float16', stored: StoredData | undefined): BrowserManifest {
  const p = info.info;
  const classNames = p.task === 'classification' ? stored?.classNames : undefined;
  return {
    format: BROWSER_FORMAT,
    formatVersion: BROWSER_FORMAT_VERSION,
    pushEnsVersion: packageVersion(),
    algorithm: p.algorithm,
    sampling: plan.sampling,
    task: p.task,
    model: p.model as BrowserManifest['model'],
    numParams: p.numParams,
    inputShape: p.inputShape,
    outputSize: p.outputSize,
    gaussian: p.gaussian,
    ...(classNames ? { classNames } : {}),
    particleSeeds: p.particleSeeds,
    predictive: plan.predictive,
    ...(p.data?.normalization ? { normalization: p.data.normalization } : {}),
    defaultModes: p.task === 'classification' ? ['mean_prob', 'mode'] : ['mean', 'std'],
    weights: { file: WEIGHTS_FILE, bytes: packed.bytes.length, sha256: createHash('sha256').update(packed.bytes).digest('hex'), byteOrder: 'little', storage, tensors: packed.tensors },
    demo: choice.demo,
    source: { checkpoint: path.basename(path.resolve(info.dir)), epoch: p.epoch },
  };
}

/** Writes every file into a temporary sibling folder, then puts it in place of `out`. */
function writeFolder(out: string, manifest: BrowserManifest, weights: Uint8Array, bundle: string): string[] {
  const tmp = tempSibling(out);
  fs.mkdirSync(tmp);
  try {
    fs.writeFileSync(path.join(tmp, WEIGHTS_FILE), weights);
    fs.writeFileSync(path.join(tmp, MANIFEST_FILE), JSON.stringify(manifest));
    fs.writeFileSync(path.join(tmp, 'index.html'), indexHtml(manifest));
    fs.copyFileSync(bundle, path.join(tmp, PAGE_BUNDLE));
    const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    for (const f of WASM_FILES) fs.copyFileSync(path.join(wasmDir, f), path.join(tmp, f));
    if (fs.existsSync(out)) {
      const old = tempSibling(out);
      fs.renameSync(out, old);
      fs.renameSync(tmp, out);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, out);
    }
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return fs.readdirSync(out).sort();
}

interface Float16Effect {
  probes: number;
  probeSource: 'data' | 'random';
  maxWeightError: number;
  /** Largest change of each reported mode over the probes. */
  maxChange: Record<string, number>;
  /** Classification: fraction of probes whose BMA class stays the same. */
  sameClass?: number;
}

/** How far float16 storage moves the BMA: both weight files through the browser's predictive core, here in Node. */
async function float16Effect(manifest: BrowserManifest, packed32: ReturnType<typeof packWeights>, bytes16: Uint8Array, choice: DemoChoice): Promise<Float16Effect> {
  const { useBackend } = require('../../util/tf') as typeof Tf;
  const { PredictiveCore, particleArrays } = require('../../browser/core') as typeof Core;
  await useBackend('wasm');
  const bytes32 = packed32.bytes;
  const m32: BrowserManifest = { ...manifest, weights: { ...manifest.weights, bytes: bytes32.length, storage: 'float32', tensors: packed32.tensors } };
  const core32 = new PredictiveCore(m32, particleArrays(m32, bytes32));
  const core16 = new PredictiveCore(manifest, particleArrays(manifest, bytes16));
  let maxWeightError = 0;
  const a32 = particleArrays(m32, bytes32);
  particleArrays(manifest, bytes16).forEach((p, k) => {
    const pairs: [ArrayLike<number> | undefined, ArrayLike<number> | undefined][] = [
      [p.params, a32[k].params],
      [p.prior, a32[k].prior],
    ];
    if (p.swag && a32[k].swag) pairs.push([p.swag.deviations(), a32[k].swag!.deviations()]);
    for (const [a, b] of pairs) if (a && b) for (let i = 0; i < a.length; i++) maxWeightError = Math.max(maxWeightError, Math.abs(a[i] - b[i]));
  });
  let x: Float32Array;
  let xShape: number[];
  let probeSource: 'data' | 'random' = 'data';
  if (choice.probes) ({ x, xShape } = choice.probes);
  else {
    probeSource = 'random';
    const rng = new Rng(0x70726f62);
    xShape = [128, ...manifest.inputShape];
    x = new Float32Array(xShape.reduce((a, b) => a * b, 1));
    rng.fillNormal(x);
  }
  const modes = manifest.task === 'classification' ? ['mean_prob', 'mutual_info'] : ['mean', 'std'];
  const opts = { modes, originalUnits: probeSource === 'data' };
  try {
    const [p32, p16] = [await core32.predict({ x, xShape }, opts), await core16.predict({ x, xShape }, opts)];
    const maxChange: Record<string, number> = {};
    for (const mode of modes) {
      let d = 0;
      p32[mode].data.forEach((v, i) => (d = Math.max(d, Math.abs(v - p16[mode].data[i]))));
      maxChange[mode] = d;
    }
    const effect: Float16Effect = { probes: xShape[0], probeSource, maxWeightError, maxChange };
    if (manifest.task === 'classification') {
      const C = manifest.outputSize;
      let same = 0;
      for (let n = 0; n < xShape[0]; n++) {
        const arg = (d: Float32Array) => {
          let b = 0;
          for (let c = 1; c < C; c++) if (d[n * C + c] > d[n * C + b]) b = c;
          return b;
        };
        if (arg(p32.mean_prob.data) === arg(p16.mean_prob.data)) same++;
      }
      effect.sameClass = same / xShape[0];
    }
    return effect;
  } finally {
    core32.dispose();
    core16.dispose();
  }
}

function float16Line(a: Float16Effect): string {
  const changes = Object.entries(a.maxChange)
    .map(([m, v]) => `${m} ${v.toExponential(1)}`)
    .join(', ');
  const cls = a.sameClass !== undefined ? `; BMA class unchanged on ${(100 * a.sameClass).toFixed(1)}%` : '';
  return `float16: weights off by at most ${a.maxWeightError.toExponential(1)}; on ${a.probes} ${a.probeSource === 'data' ? 'data' : 'random'} inputs the BMA moves by at most ${changes}${cls}`;
}

function kb(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}
