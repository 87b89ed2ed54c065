// Generated datasets. Each is a pure function of its size and seed.

import { Rng } from '../util/rng';
import { Dataset } from './dataset';

/** Examples in the Push tutorial's RandDataset. */
export const SEED_RANDOM_SIZE = 1280;

/**
 * The Push tutorial's RandDataset: x [1280, dim] ~ N(0, 1) and y [1280, 1] ~ N(0, 1),
 * drawn independently, so there is nothing to learn: a pipeline and speed check.
 */
export function makeSeedRandom(dim: number, seed: number, name = `seed-random:${dim}`): Dataset {
  const rng = new Rng(seed);
  const x = rng.fillNormal(new Float32Array(SEED_RANDOM_SIZE * dim));
  const y = rng.fillNormal(new Float32Array(SEED_RANDOM_SIZE));
  return { name, task: 'regression', x, xShape: [SEED_RANDOM_SIZE, dim], y, yShape: [SEED_RANDOM_SIZE, 1] };
}

/**
 * 1-D toy regression, 128 points: x ~ U(-0.5, 1.0), y = 0.5·sin(4x) + x + ε,
 * ε ~ N(0, 0.05²). Outside [-0.5, 1] there is no data, which is where the
 * predictive uncertainty of a good posterior should grow.
 */
export function makeToy(seed: number, name = 'toy'): Dataset {
  return makeCurve(seed, name, 128, -0.5, 1.0, (x) => 0.5 * Math.sin(4 * x) + x, 0.05);
}

/** 256 points: x ~ U(-3, 3), y = sin(x) + ε, ε ~ N(0, 0.1²). */
export function makeSine(seed: number, name = 'sine'): Dataset {
  return makeCurve(seed, name, 256, -3, 3, Math.sin, 0.1);
}

function makeCurve(
  seed: number,
  name: string,
  n: number,
  lo: number,
  hi: number,
  f: (x: number) => number,
  noiseStd: number,
): Dataset {
  const rng = new Rng(seed);
  const x = rng.fillUniform(new Float32Array(n), lo, hi);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = f(x[i]) + noiseStd * rng.normal();
  return {
    name,
    task: 'regression',
    x,
    xShape: [n, 1],
    y,
    yShape: [n, 1],
    featureNames: ['x'],
    targetName: 'y',
  };
}

/**
 * sklearn's make_moons(n, noise=0.1, shuffle=True): floor(n/2) points on the
 * upper half circle (cos t, sin t), class 0, and the rest on the lower one
 * (1 - cos t, 0.5 - sin t), class 1, t evenly spaced in [0, π]; then shuffled
 * and N(0, 0.1²) noise added to both coordinates.
 */
export function makeTwoMoons(n: number, seed: number, name = `two-moons:${n}`): Dataset {
  const rng = new Rng(seed);
  const numOuter = Math.floor(n / 2);
  const numInner = n - numOuter;
  const points = new Float32Array(2 * n);
  const labels = new Float32Array(n);
  const order = rng.permutation(n);
  for (let i = 0; i < n; i++) {
    const row = order[i];
    const inner = i >= numOuter;
    const k = inner ? i - numOuter : i;
    const t = evenlySpaced(k, inner ? numInner : numOuter, Math.PI);
    points[2 * row] = inner ? 1 - Math.cos(t) : Math.cos(t);
    points[2 * row + 1] = inner ? 0.5 - Math.sin(t) : Math.sin(t);
    labels[row] = inner ? 1 : 0;
  }
  for (let i = 0; i < points.length; i++) points[i] += 0.1 * rng.normal();
  return {
    name,
    task: 'classification',
    x: points,
    xShape: [n, 2],
    y: labels,
    yShape: [n],
    numClasses: 2,
    featureNames: ['x1', 'x2'],
    targetName: 'moon',
  };
}

/** The k-th of `count` points of linspace(0, end, count) (numpy: endpoints included). */
function evenlySpaced(k: number, count: number, end: number): number {
  return count === 1 ? 0 : (k * end) / (count - 1);
}
