// The page `push-ens export` writes: loads the posterior next to it, exposes
// it as window.pushEns, answers ?x=<JSON> in <pre id="predictions">, and
// mounts the demo its manifest names. Any failure is shown on the page as one
// readable line (never a blank page); body[data-state] says ready or error.
import { loadPosterior, BrowserPosterior, BrowserBackend } from '../loader';
import type { ReducedPrediction } from '../../bayes/predictive';
import '../index';
import { mountRegression } from './regression';
import { mountClassification } from './classification';
import { mountDigits } from './digits';
import { html } from './chart';

declare global {
  interface Window {
    pushEns?: BrowserPosterior;
    pushEnsTiming?: { loadedMs: number; firstPredictionMs: number };
  }
}

function showError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  const box = document.getElementById('error') ?? html('div', { id: 'error' }, document.body);
  box.textContent = `This posterior could not be shown: ${message.split('\n')[0]}`;
  box.hidden = false;
  document.getElementById('status')?.replaceChildren();
  document.body.dataset.state = 'error';
}

/** Row-major data as nested arrays of the given shape (as push-ens predict --json writes it). */
function nest(data: ArrayLike<number>, shape: readonly number[], at = 0): unknown {
  if (shape.length <= 1) return Array.from({ length: shape[0] ?? data.length }, (_, i) => data[at + i]);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(data, shape.slice(1), at + i * inner));
}

function predictionsJson(pred: Record<string, ReducedPrediction>, backend: string): string {
  const modes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pred)) modes[k] = { shape: v.shape, data: nest(v.data, v.shape) };
  return JSON.stringify({ backend, modes });
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const status = document.getElementById('status');
  const backend = (params.get('backend') ?? 'auto') as BrowserBackend | 'auto';
  const posterior = await loadPosterior(new URL('./', location.href), { backend });
  window.pushEns = posterior;
  const loadedMs = performance.now();
  const m = posterior.manifest;
  if (status) status.textContent = `${m.algorithm}, ${posterior.numParticles} particles, ${m.task}; tfjs backend ${posterior.backend}; loaded in ${(loadedMs / 1000).toFixed(2)} s`;

  const xParam = params.get('x');
  if (xParam !== null) {
    let x: unknown;
    try {
      x = JSON.parse(xParam);
    } catch {
      throw new Error(`?x= is not JSON: expected rows of inputs such as ?x=[[0.5]]`);
    }
    const modes = params.get('modes')?.split(',').map((s) => s.trim()) ?? m.defaultModes;
    const samples = params.get('samples');
    const pred = await posterior.predict(x as number[][], { modes, originalUnits: true, numSamples: samples === null ? undefined : Number(samples) });
    document.getElementById('predictions')!.textContent = predictionsJson(pred, posterior.backend);
  }

  const root = document.getElementById('demo')!;
  if (m.demo.kind === 'regression-1d') await mountRegression(root, posterior);
  else if (m.demo.kind === 'classification-2d') await mountClassification(root, posterior);
  else if (m.demo.kind === 'image') await mountDigits(root, posterior);
  else html('p', {}, root, 'This posterior has no picture here: use window.pushEns.predict(x, { modes }) or ?x=[...] in the address.');
  window.pushEnsTiming = { loadedMs, firstPredictionMs: performance.now() };
  document.body.dataset.state = 'ready';
}

start().catch(showError);
