// MC dropout prediction through real workers: each pass is one thinned network
// (a mask over units shared by every input), so a pass's curve over a grid is a
// function of x: piecewise linear for a ReLU net, independent of the batch size
// and of which other inputs share the batch, and reproducible for a seed.
import { trainMCDropout } from '../../src/bayes';
import { dense } from '../../src/nn';
import { Rng } from '../../src/util/rng';
import { maxAbsDiff } from './helpers';

const HIDDEN = 16;
const S = 8;

function sineData(n: number): { x: Float32Array; xShape: number[]; y: Float32Array; yShape: number[] } {
  const rng = new Rng(5);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = -3 + 6 * rng.next();
    y[i] = Math.sin(x[i]) + 0.1 * rng.normal();
  }
  return { x, xShape: [n, 1], y, yShape: [n, 1] };
}

/** Second differences of a curve sampled on an evenly spaced grid, above `tol`. */
function kinks(curve: ArrayLike<number>, tol: number): number {
  let n = 0;
  for (let i = 1; i + 1 < curve.length; i++) if (Math.abs(curve[i + 1] - 2 * curve[i] + curve[i - 1]) > tol) n++;
  return n;
}

test('MC dropout passes are smooth curves over a grid, whatever the batch, and reproducible', async () => {
  const post = await trainMCDropout({ model: dense([1, HIDDEN, 1]), data: sineData(96), epochs: 4, batchSize: 32, particles: 2, devices: 'cpu:0,cpu:1', seed: 11, dropout: 0.3, numSamples: S });
  try {
    const G = 121;
    const grid = Float32Array.from({ length: G }, (_, i) => -4 + (8 * i) / (G - 1));
    const whole = await post.predict({ x: grid, xShape: [G, 1] }, { modes: ['pred', 'std'] });
    const members = whole.pred.shape[1];
    expect(members).toBe(2 * S);
    // The same seed, the same passes.
    const again = await post.predict({ x: grid, xShape: [G, 1] }, { modes: ['pred'] });
    expect(Array.from(again.pred.data)).toEqual(Array.from(whole.pred.data));
    // Batches of 7 (rows at other positions, with other neighbours): the same passes.
    const batched = await post.predict({ x: grid, xShape: [G, 1] }, { modes: ['pred'], batchSize: 7 });
    expect(maxAbsDiff(batched.pred.data, whole.pred.data)).toBeLessThan(1e-5);
    // The grid reversed: each x still gets the same outputs from each pass.
    const reversed = await post.predict({ x: grid.slice().reverse(), xShape: [G, 1] }, { modes: ['pred'] });
    let worst = 0;
    for (let i = 0; i < G; i++) {
      for (let s = 0; s < members; s++) worst = Math.max(worst, Math.abs(reversed.pred.data[(G - 1 - i) * members + s] - whole.pred.data[i * members + s]));
    }
    expect(worst).toBeLessThan(1e-5);
    // Each pass is a ReLU net with HIDDEN units: piecewise linear with at most HIDDEN kinks,
    // each touching at most two second differences. Per-row masks would bend it at nearly every point.
    for (let s = 0; s < members; s++) {
      const curve = Array.from({ length: G }, (_, i) => whole.pred.data[i * members + s]);
      expect(kinks(curve, 1e-4)).toBeLessThanOrEqual(2 * HIDDEN);
    }
    // Still a posterior: the passes disagree, so the band has width.
    expect(Math.min(...Array.from(whole.std.data))).toBeGreaterThan(0);
    const passes = new Set(Array.from({ length: S }, (_, s) => whole.pred.data[(G >> 1) * members + s].toFixed(6)));
    expect(passes.size).toBeGreaterThan(S / 2);
  } finally {
    await post.close();
  }
});
