// src/util/tf.ts loads the union bundle (gradients, chained ops) only on first
// use: these check that a chained op still works in a fresh thread before any
// autodiff, and that the hard-coded op list matches the installed bundle.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

const TF_MODULE = path.resolve(__dirname, '..', '..', 'src', 'util', 'tf.js');

function runInThread(code: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: TF_MODULE });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (c) => reject(new Error(`thread exited with ${c} before answering`)));
  });
}

test('a chained op works before any autodiff, and loads the bundle only when first used', async () => {
  const out = (await runInThread(`
    const { workerData, parentPort } = require('node:worker_threads');
    const { tf, useBackend } = require(workerData);
    const bundle = require.resolve('@tensorflow/tfjs');
    useBackend('cpu').then(() => {
      const before = bundle in require.cache;
      const t = tf.tensor([1, 2, 3, 4]).reshape([2, 2]).sum(1);
      const after = bundle in require.cache;
      parentPort.postMessage({ before, after, values: Array.from(t.dataSync()), grad: Array.from(tf.grad((x) => x.square().sum())(tf.tensor([3])).dataSync()) });
    });
  `)) as { before: boolean; after: boolean; values: number[]; grad: number[] };
  expect(out).toEqual({ before: false, after: true, values: [3, 7], grad: [6] });
});

test('the chained-op list in src/util/tf.ts is the one the installed union bundle assigns', () => {
  const bundle = require.resolve('@tensorflow/tfjs/dist/tf.node.js');
  const text = fs.readFileSync(bundle, 'utf8');
  const inBundle = [...new Set([...text.matchAll(/getGlobalTensorClass\(\)\.prototype\.([A-Za-z0-9]+) = /g)].map((m) => m[1]))].sort();
  const source = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'src', 'util', 'tf.ts'), 'utf8');
  const listed = /const CHAINED_OPS = `([^`]*)`/.exec(source)![1].trim().split(/\s+/).sort();
  expect(inBundle.length).toBeGreaterThan(100);
  expect(listed).toEqual(inBundle);
});
