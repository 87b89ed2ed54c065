// Headless Debian Chromium driven by playwright-core, for tests of exported
// pages. The machine has no network: the flags keep Chromium from trying to
// reach Google's services (without them it stalls), and every page is served
// from loopback by the export command's own server.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, BrowserContext, Page } from 'playwright-core';

// Functions passed to page.evaluate run in the page; the test build has no DOM types.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const Image: any;

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Chromium with a fresh profile (removed by close()). */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'push-ens-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1000, height: 760 }, timeout: 30_000 });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface PageState {
  state: string;
  error: string;
  predictions: string;
  timing?: { loadedMs: number; firstPredictionMs: number };
  pageErrors: string[];
}

/** Opens url and waits until the page says ready or error (body[data-state]). */
export async function openPage(context: BrowserContext, url: string, timeoutMs = 30_000): Promise<{ page: Page; result: PageState }> {
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: timeoutMs });
  const r = await page.evaluate(() => ({
    state: document.body.dataset.state ?? '',
    error: document.getElementById('error')?.textContent ?? '',
    predictions: document.getElementById('predictions')?.textContent ?? '',
    timing: (globalThis as unknown as { pushEnsTiming?: { loadedMs: number; firstPredictionMs: number } }).pushEnsTiming,
  }));
  return { page, result: { ...r, pageErrors } };
}

/** Variance of the screenshot's grey levels (0-255), decoded by the browser itself. */
export async function pixelVariance(page: Page, png: Buffer): Promise<number> {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let s = 0;
    let s2 = 0;
    const n = data.length / 4;
    for (let i = 0; i < data.length; i += 4) {
      const g = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      s += g;
      s2 += g * g;
    }
    return s2 / n - (s / n) ** 2;
  }, png.toString('base64'));
}
