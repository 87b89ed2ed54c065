// push-ens in the browser (`import { loadPosterior } from 'push-ens/browser'`):
// loads a folder written by `push-ens export` and predicts with the same modes,
// options and numbers as Node's Posterior.predict. This entry registers the
// tfjs backends the bundle ships (webgl, wasm, cpu); scripts/build-browser.mjs
// bundles it into dist/browser/push-ens.js, with no Node module inside.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmPaths } from './loader';

registerWasmPaths((prefix) => setWasmPaths(prefix));

export { loadPosterior, BrowserPosterior, BACKEND_ORDER } from './loader';
export type { BrowserBackend, LoadOptions } from './loader';
export type { BrowserPredictOptions } from './core';
export type { BrowserInput } from './inputs';
export type { BrowserManifest, DemoData } from './format';
export type { ReducedPrediction } from '../bayes/predictive';
export { tf } from '../util/tf';
