// push-ens export, tested in real headless Chromium: tiny posteriors trained
// by the CLI are exported, served on loopback and loaded as pages. The page
// contract (?x= -> #predictions) must match Node's Posterior.predict within
// 1e-5 (regression, classification with a random prior, MC dropout,
// MultiSWAG, SGLD's kept samples; the wasm backend, and cpu for MC dropout), every demo must draw something (pixel
// variance), a drawn MNIST test digit must be read right through the page's
// own pointer input, and each bad file must give a readable error.
// Screenshots go to docs/img/ when PUSH_ENS_SCREENSHOTS=1.
import { execFileSync, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { Posterior } from '../../src';
import { loadMnist } from '../../src/data/mnist';
import { serveFolder, Served } from '../../src/cli/export/serve';
import { pool, runCli, tempDir, CliResult, ok } from '../cli/helpers';
import { Browser, launchChromium, openPage, pixelVariance } from './chromium';
import { parseDoc } from '../docs/doc-blocks';

jest.setTimeout(240_000);

const REPO = path.resolve(__dirname, '..', '..', '..');
const BUNDLE = path.join(REPO, 'dist', 'browser', 'push-ens-page.js');
const SHOTS = process.env.PUSH_ENS_SCREENSHOTS === '1' ? path.join(REPO, 'docs', 'img') : undefined;
const JS_BUDGET = 1.5 * 1024 * 1024;
const TOL = 1e-5;

let work: string;
let browser: Browser;
const servers: Served[] = [];
const W = (...p: string[]) => path.join(work, ...p);

const TRAIN: Record<string, string[]> = {
  reg: ['--data', 'toy', '--standardize', '--model', 'mlp:32,32', '--epochs', '60', '--particles', '4', '-b', '32'],
  cls: ['--data', 'two-moons', '--model', 'mlp:32,32', '--epochs', '40', '--particles', '3', '-b', '64', '--prior-beta', '1'],
  mcd: ['--data', 'toy', '--algo', 'mcdropout', '--model', 'mlp:32,32', '--epochs', '60', '--particles', '3', '-b', '32', '--samples', '8'],
  swag: ['--data', 'toy', '--algo', 'mswag', '--model', 'mlp:32,32', '--epochs', '40', '--swag-epochs', '10', '--particles', '2', '-b', '32', '--samples', '6'],
  // Two chains keeping 4 samples each: 8 fixed members in the page.
  sgld: ['--data', 'toy', '--algo', 'sgld', '--model', 'mlp:32,32', '--epochs', '16', '--burn-in', '10', '--max-samples', '4', '--particles', '2', '-b', '32'],
  digits: ['--data', 'mnist:3000,500', '--model', 'mlp:64', '--epochs', '6', '--particles', '3', '-b', '64'],
};

beforeAll(async () => {
  work = tempDir('browser');
  // The page bundle from the current sources (npm run build does the same).
  execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build-browser.mjs'), '--quiet'], { stdio: 'inherit' });
  await pool(Object.keys(TRAIN), 2, async (name) => ok(await runCli(['train', ...TRAIN[name], '--out', W(name), '-q'], { timeoutMs: 120_000 })));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function exportAndServe(name: string, extra: string[] = []): Promise<{ url: string; out: string; result: Record<string, any> }> {
  const out = W(`web-${name}${extra.length ? '-' + extra.join('').replace(/[^a-z0-9]/gi, '') : ''}`);
  const r = ok(await runCli(['export', '-c', W(name), '--out', out, '--json', ...extra]));
  const served = await serveFolder(out, 0);
  servers.push(served);
  return { url: served.url, out, result: JSON.parse(r.stdout) };
}

async function nodePredict(name: string, x: number[][] | number[][][][], modes: string[]) {
  const p = await Posterior.load(W(name));
  try {
    return await p.predict(x as number[][], { modes, originalUnits: true });
  } finally {
    await p.close();
  }
}

function flat(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flat) : [v as number];
}

/** The page's ?x= answer against Node's, mode by mode; returns the largest difference. */
function compare(pageJson: string, node: Record<string, { data: Float32Array; shape: number[] }>, modes: string[]): number {
  const page = JSON.parse(pageJson) as { modes: Record<string, { shape: number[]; data: unknown }> };
  expect(Object.keys(page.modes).sort()).toEqual([...modes].sort());
  let worst = 0;
  for (const m of modes) {
    expect(page.modes[m].shape).toEqual(node[m].shape);
    const got = flat(page.modes[m].data);
    expect(got).toHaveLength(node[m].data.length);
    got.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - node[m].data[i]))));
  }
  return worst;
}

const timings: string[] = [];

/** Pixel variance of a full-page screenshot; with PUSH_ENS_SCREENSHOTS=1 it goes to docs/img/`file` (without the ?x= JSON). */
async function screenshot(page: Page, file?: string): Promise<number> {
  const variance = await pixelVariance(page, await page.screenshot({ fullPage: true }));
  if (SHOTS && file) {
    await page.addStyleTag({ content: '#predictions { display: none; }' });
    fs.writeFileSync(path.join(SHOTS, file), await page.screenshot({ fullPage: true }));
  }
  return variance;
}

/** The README's pictures: the MC dropout band is the one that shows most. */
const README_SHOTS: Record<string, string> = { mcd: 'browser-regression.png', cls: 'browser-classification.png' };

const GRID_X = [[-1.2], [-0.5], [0], [0.25], [0.5], [1], [1.8]];
const MOONS_X = [[-1, 0.5], [0, 0], [0.5, 0.25], [1, -0.5], [2, 0.5], [3, 3]];

describe.each([
  ['reg', 'regression (standardized)', GRID_X, ['mean', 'std', 'median', 'pred']],
  ['cls', 'classification with a random prior', MOONS_X, ['mean_prob', 'mode', 'std', 'entropy', 'mutual_info', 'prob']],
  ['mcd', 'MC dropout', GRID_X, ['mean', 'std', 'pred']],
  ['swag', 'MultiSWAG', GRID_X, ['mean', 'std', 'min', 'max']],
  ['sgld', 'SGLD (every kept sample of every chain)', GRID_X, ['mean', 'std', 'min', 'max']],
])('%s: %s', (name, _what, x, modes) => {
  test('?x= in the page equals Node\'s Posterior.predict within 1e-5; the demo draws', async () => {
    const { url, out, result: summary } = await exportAndServe(name);
    if (name === 'sgld') {
      // The page samples nothing: each chain's 4 kept samples are shipped as fixed members.
      expect(summary.sampling).toBe('members');
      const m = JSON.parse(fs.readFileSync(path.join(out, 'posterior.json'), 'utf8'));
      expect(m.weights.tensors.map((e: { name: string; length: number }) => [e.name, e.length / m.numParams])).toEqual([['params', 4], ['params', 4]]);
    }
    const node = await nodePredict(name, x, modes);
    const query = `?x=${encodeURIComponent(JSON.stringify(x))}&modes=${modes.join(',')}`;
    // cpu (plain JS) once, on the MC dropout posterior: its masks are the part most likely to drift.
    for (const backend of name === 'mcd' ? ['wasm', 'cpu'] : ['wasm']) {
      const { page, result } = await openPage(browser.context, `${url}${query}&backend=${backend}`);
      try {
        expect(result.error).toBe('');
        expect(result.state).toBe('ready');
        expect(result.pageErrors).toEqual([]);
        expect(JSON.parse(result.predictions).backend).toBe(backend);
        expect(compare(result.predictions, node, modes)).toBeLessThanOrEqual(TOL);
        if (backend === 'wasm') {
          timings.push(`${name}: loaded ${result.timing!.loadedMs.toFixed(0)} ms, first prediction drawn ${result.timing!.firstPredictionMs.toFixed(0)} ms after navigation`);
          // Predicting again leaves no tensor behind (weights stay uploaded between calls).
          const counts = await page.evaluate(async (xs) => {
            const p = (globalThis as any).pushEns;
            await p.predict(xs);
            const before = p.numTensors();
            for (let i = 0; i < 3; i++) await p.predict(xs);
            return [before, p.numTensors()];
          }, x);
          expect(counts[1]).toBe(counts[0]);
          expect(await screenshot(page, README_SHOTS[name])).toBeGreaterThan(100);
          if (name === 'cls') {
            await page.selectOption('#view', 'mi');
            expect(await screenshot(page, 'browser-classification-mi.png')).toBeGreaterThan(100);
          }
        }
      } finally {
        await page.close();
      }
    }
  });
});

test('the regression page reads out the BMA mean and std at the hovered x', async () => {
  const { url } = await exportAndServe('reg', ['--force']);
  const { page } = await openPage(browser.context, url);
  try {
    const box = (await page.locator('svg.chart').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.5);
    await page.waitForFunction(() => /mean = .* std = /.test((globalThis as any).document.getElementById('readout').textContent));
    const text = await page.locator('#readout').textContent();
    const [, xs, mu, sd] = /x = (\S+)\s+mean = (\S+)\s+std = (\S+)/.exec(text!)!;
    const node = await nodePredict('reg', [[Number(xs)]], ['mean', 'std']);
    // The readout rounds x to 3 digits: the prediction there is close, not equal.
    expect(Math.abs(Number(mu) - node.mean.data[0])).toBeLessThan(0.05);
    expect(Number(sd)).toBeGreaterThan(0);
  } finally {
    await page.close();
  }
});

test('float16 export: half the weight bytes, its accuracy reported, the page within the reported change', async () => {
  const full = await exportAndServe('cls', ['--force']);
  const half = await exportAndServe('cls', ['--float16']);
  expect(half.result.weights).toEqual({ storage: 'float16', bytes: expect.any(Number) });
  expect(half.result.weights.bytes).toBeLessThanOrEqual(full.result.weights.bytes / 2 + 64);
  const acc = half.result.float16;
  expect(acc.probes).toBeGreaterThan(0);
  expect(acc.maxWeightError).toBeGreaterThan(0);
  expect(acc.maxWeightError).toBeLessThan(1e-2);
  expect(acc.maxChange.mean_prob).toBeLessThan(1e-2);
  expect(acc.sameClass).toBeGreaterThan(0.95);
  timings.push(`float16 (cls): weights ${half.result.weights.bytes} B vs ${full.result.weights.bytes} B; max weight error ${acc.maxWeightError.toExponential(1)}, max |Δ mean_prob| ${acc.maxChange.mean_prob.toExponential(1)} on ${acc.probes} inputs`);
  const text = ok(await runCli(['export', '-c', W('cls'), '--out', W('web-text16'), '--float16']));
  expect(text.stdout).toMatch(/^float16: weights off by at most \S+; on \d+ data inputs the BMA moves by at most mean_prob \S+, mutual_info \S+; BMA class unchanged on [\d.]+%$/m);
  const q = `?x=${encodeURIComponent(JSON.stringify(MOONS_X))}&modes=mean_prob&backend=wasm`;
  const a = await openPage(browser.context, full.url + q);
  const b = await openPage(browser.context, half.url + q);
  const pa = flat(JSON.parse(a.result.predictions).modes.mean_prob.data);
  const pb = flat(JSON.parse(b.result.predictions).modes.mean_prob.data);
  pa.forEach((v, i) => expect(Math.abs(v - pb[i])).toBeLessThan(1e-2));
  await a.page.close();
  await b.page.close();
});

/** Strokes along each row's runs of ink, in the pad's page coordinates (x0, y0, x1, y1 per stroke). */
function strokesOf(pixels: Float32Array, box: { x: number; y: number; width: number; height: number }): number[][] {
  const px = (r: number, c: number) => [box.x + ((c + 0.5) * box.width) / 28, box.y + ((r + 0.5) * box.height) / 28];
  const strokes: number[][] = [];
  for (let r = 0; r < 28; r++) {
    for (let c = 0; c < 28; c++) {
      if (pixels[r * 28 + c] <= 0.4) continue;
      let e = c;
      while (e + 1 < 28 && pixels[r * 28 + e + 1] > 0.4) e++;
      strokes.push([...px(r, c), ...px(r, e)]);
      c = e;
    }
  }
  return strokes;
}

/** The page's answer once it has caught up with the drawing. */
async function verdictOf(page: Page): Promise<string> {
  await page.waitForFunction(() => {
    const d = (globalThis as any).document.querySelector('.digits').dataset;
    return d.drawn !== undefined && d.drawn === d.shown;
  });
  return page.evaluate(() => (globalThis as any).document.getElementById('verdict').dataset.top);
}

test('image page: MNIST test digits drawn with pointer events are read right; bars, entropy and mutual information show', async () => {
  const { url } = await exportAndServe('digits');
  const { page, result } = await openPage(browser.context, `${url}?backend=wasm`);
  try {
    expect(result.state).toBe('ready');
    // The model's own test split (mnist:3000,500): digits it never trained on.
    const test = loadMnist(3000, 500).test!;
    const box = (await page.locator('#pad').boundingBox())!;
    const digit = (i: number) => test.x.subarray(i * 784, (i + 1) * 784);
    // Digit 0 with the mouse (trusted input events, as a person draws)...
    await page.click('#clear');
    for (const [x0, y0, x1, y1] of strokesOf(digit(0), box)) {
      await page.mouse.move(x0, y0);
      await page.mouse.down();
      await page.mouse.move(x1, y1);
      await page.mouse.up();
    }
    expect(Number(await verdictOf(page))).toBe(test.y[0]);
    // ...and nine more as pointer events dispatched on the canvas (the same listeners, faster).
    const K = 10;
    let right = 1;
    const t0 = Date.now();
    for (let i = 1; i < K; i++) {
      await page.evaluate((strokes) => {
        const d = (globalThis as any).document;
        d.getElementById('clear').click();
        const pad = d.getElementById('pad');
        const P = (globalThis as any).PointerEvent;
        const fire = (type: string, x: number, y: number) => pad.dispatchEvent(new P(type, { clientX: x, clientY: y, pointerId: 7, bubbles: true, buttons: type === 'pointerup' ? 0 : 1 }));
        for (const [x0, y0, x1, y1] of strokes) {
          fire('pointerdown', x0, y0);
          fire('pointermove', x1, y1);
          fire('pointerup', x1, y1);
        }
      }, strokesOf(digit(i), box));
      if (Number(await verdictOf(page)) === test.y[i]) right++;
    }
    timings.push(`digits: ${right}/${K} MNIST test digits drawn on the canvas read right (${((Date.now() - t0) / (K - 1)).toFixed(0)} ms per dispatched digit)`);
    // A 3-particle MLP at about 92 % test accuracy: the drawn (thicker) digits are read nearly as well.
    expect(right).toBeGreaterThanOrEqual(8);
    const stats = await page.evaluate(() => {
      const d = (globalThis as any).document;
      return [d.getElementById('entropy').textContent, d.getElementById('mutual-info').textContent, d.querySelectorAll('.bar-row').length];
    });
    expect(stats[0]).toMatch(/^predictive entropy \d\.\d{3} nats/);
    expect(stats[1]).toMatch(/^mutual information \d\.\d{3} nats/);
    expect(stats[2]).toBe(10);
    expect(await screenshot(page, 'browser-digits.png')).toBeGreaterThan(100);
  } finally {
    await page.close();
  }
});

describe('bad files: the page shows a readable error, never a blank page', () => {
  let good: string;
  beforeAll(async () => {
    good = (await exportAndServe('mcd', ['--force'])).out;
  });

  const cases: [string, (dir: string) => void, RegExp][] = [
    ['weights missing', (d) => fs.rmSync(path.join(d, 'weights.bin')), /weights\.bin is missing \(HTTP 404/],
    ['weights truncated', (d) => fs.truncateSync(path.join(d, 'weights.bin'), 1000), /weights\.bin is truncated: it holds 1000 bytes, the manifest says \d+/],
    ['weights longer than the manifest says', (d) => fs.appendFileSync(path.join(d, 'weights.bin'), Buffer.alloc(16)), /weights\.bin is larger than \d+ bytes, the size the manifest gives it: refused/],
    [
      'weights changed (one byte)',
      (d) => {
        const f = path.join(d, 'weights.bin');
        const b = fs.readFileSync(f);
        b[100] ^= 0xff;
        fs.writeFileSync(f, b);
      },
      /weights\.bin does not match the manifest: its sha256 is [0-9a-f]{12}…, posterior\.json says [0-9a-f]{12}…/,
    ],
    ['manifest missing', (d) => fs.rmSync(path.join(d, 'posterior.json')), /posterior\.json is missing \(HTTP 404/],
    ['manifest not JSON', (d) => fs.writeFileSync(path.join(d, 'posterior.json'), '{"format": "push-ens/browser-posterior", '), /posterior\.json is not valid JSON/],
    ['manifest of something else', (d) => fs.writeFileSync(path.join(d, 'posterior.json'), '{"format": "tfjs-layers-model"}'), /posterior\.json: format is "tfjs-layers-model": expected "push-ens\/browser-posterior"/],
    [
      'manifest pointing outside the weights',
      (d) => editManifest(d, (m) => (m.weights.tensors[0].offset = m.weights.bytes)),
      /posterior\.json: weights\.tensors\[0\] is .*: expected an array inside the \d+-byte weights file/,
    ],
    ['manifest naming a path', (d) => editManifest(d, (m) => (m.weights.file = '../secret.bin')), /posterior\.json: weights\.file is "\.\.\/secret\.bin": expected a plain file name/],
    ['manifest with the wrong parameter count', (d) => editManifest(d, (m) => (m.numParams += 1)), /posterior\.json: weights\.tensors\[0\]\.length is \d+: expected \d+, the model's parameter count/],
  ];

  test.each(cases)('%s', async (_name, spoil, message) => {
    const dir = W(`bad-${_name.replace(/\W+/g, '-')}`);
    fs.cpSync(good, dir, { recursive: true });
    spoil(dir);
    const served = await serveFolder(dir, 0);
    servers.push(served);
    const { page, result } = await openPage(browser.context, `${served.url}?x=[[0.5]]`);
    try {
      expect(result.state).toBe('error');
      expect(result.error).toMatch(/^This posterior could not be shown: /);
      expect(result.error).toMatch(message);
      expect(result.error.split('\n')).toHaveLength(1);
      expect(result.predictions).toBe('');
      expect(await pixelVariance(page, await page.screenshot())).toBeGreaterThan(10);
    } finally {
      await page.close();
    }
  });
});

function editManifest(dir: string, edit: (m: any) => void): void {
  const f = path.join(dir, 'posterior.json');
  const m = JSON.parse(fs.readFileSync(f, 'utf8'));
  edit(m);
  fs.writeFileSync(f, JSON.stringify(m));
}

test("README's browser example runs as written in Chromium and prints Node's numbers", async () => {
  const block = parseDoc(path.join(REPO, 'README.md')).blocks.find((b) => b.kind === 'file' && b.name === 'browser-example.html');
  expect(block).toBeDefined();
  const web = (await exportAndServe('cls', ['--force', '--float16'])).out; // any two-moons export stands in for moons-web
  // A site root as the README assumes it: the page, node_modules/push-ens and the export next to it.
  const files: Record<string, string> = {
    '/browser-example.html': '',
    '/node_modules/push-ens/dist/browser/push-ens.js': path.join(REPO, 'dist', 'browser', 'push-ens.js'),
  };
  for (const f of fs.readdirSync(web)) files[`/moons-web/${f}`] = path.join(web, f);
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (!(url in files)) return void res.writeHead(404).end();
    const body = url === '/browser-example.html' ? Buffer.from((block as { text: string }).text) : fs.readFileSync(files[url]);
    res.writeHead(200, { 'content-type': types[path.extname(url)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const page = await browser.context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/browser-example.html`);
    await page.waitForFunction(() => !/predicting/.test((globalThis as any).document.getElementById('out').textContent));
    const text = (await page.locator('#out').textContent())!;
    const m = /^(wasm|webgl|cpu): P\(class 1\) = ([\d.]+), ([\d.]+); mutual information = ([\d.]+), ([\d.]+) nats$/.exec(text);
    expect(m).not.toBeNull();
    // Three printed decimals; float16 weights move these by less than 1e-3 (see the float16 test).
    const node = await nodePredict('cls', [[0.5, 0.25], [3, 3]], ['mean_prob', 'mutual_info']);
    const want = [node.mean_prob.data[1], node.mean_prob.data[3], node.mutual_info.data[0], node.mutual_info.data[1]];
    m!.slice(2).forEach((v, i) => expect(Math.abs(Number(v) - want[i])).toBeLessThan(2e-3));
  } finally {
    await page.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('export refuses a checkpoint that fails its integrity check, with one line and nothing written', async () => {
  const bad = W('reg-corrupt');
  fs.cpSync(W('reg'), bad, { recursive: true });
  const params = fs.readdirSync(bad).find((f) => f.endsWith('particle-001.params.f32'))!;
  const b = fs.readFileSync(path.join(bad, params));
  b[8] ^= 0x01;
  fs.writeFileSync(path.join(bad, params), b);
  const r = await runCli(['export', '-c', bad, '--out', W('web-corrupt')]);
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^push-ens: error: --checkpoint: .*particle-001\.params\.f32.*(sha256|corrupt)/);
  expect(fs.existsSync(W('web-corrupt'))).toBe(false);
});

test('--serve serves the folder on loopback only, its own files only', async () => {
  const out = W('web-serve');
  const child = spawn(process.execPath, [path.join(REPO, 'dist', 'src', 'cli', 'main.js'), 'export', '-c', W('reg'), '--out', out, '--serve', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no URL within 30 s: ${text}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /"url": "(http:\/\/127\.0\.0\.1:\d+\/)"/.exec(text);
        if (m) (clearTimeout(timer), resolve(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`export --serve exited ${code}`)));
    });
    const index = await fetch(url);
    expect(index.status).toBe(200);
    expect(await index.text()).toMatch(/<pre id="predictions"><\/pre>/);
    expect((await fetch(`${url}weights.bin`)).headers.get('content-length')).toBe(String(fs.statSync(path.join(out, 'weights.bin')).size));
    for (const p of ['..%2Fpackage.json', '%2E%2E/reg/manifest.json', 'nope.js', '.hidden']) expect((await fetch(url + p)).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
});

test('bundle: no Node-only module inside, within the 1.5 MB budget (printed with the load times)', () => {
  // tfjs's wasm glue mentions worker_threads in code for Node; what matters is which modules went in.
  const inputs: string[] = JSON.parse(fs.readFileSync(path.join(REPO, 'dist', 'browser', 'bundle-inputs.json'), 'utf8'));
  expect(inputs).toContain('src/nn/network.ts'); // our forward pass, from our sources
  expect(inputs).toContain('src/bayes/predictive.ts');
  expect(inputs).toContain('src/browser/tf.ts');
  const nodeOnly = inputs.filter((f) => /^src\/(runtime|cli|workers)\/|^src\/util\/(tf|safe-read|backends)\.ts$|node_modules\/(piscina|msgpackr|commander|nats)\/|^node:/.test(f));
  expect(nodeOnly).toEqual([]);
  const bytes = fs.statSync(BUNDLE).size;
  const api = fs.statSync(path.join(REPO, 'dist', 'browser', 'push-ens.js')).size;
  const wasm = fs.readdirSync(W('web-reg')).filter((f) => f.endsWith('.wasm')).map((f) => fs.statSync(W('web-reg', f)).size);
  process.stdout.write(
    [
      `browser bundle: push-ens-page.js ${(bytes / 1024).toFixed(0)} KiB, push-ens.js (API) ${(api / 1024).toFixed(0)} KiB minified (budget ${JS_BUDGET / 1024} KiB); wasm binaries ${wasm.map((b) => (b / 1024).toFixed(0)).join(' + ')} KiB (not counted)`,
      ...timings,
      '',
    ].join('\n'),
  );
  expect(bytes).toBeLessThanOrEqual(JS_BUDGET);
});
