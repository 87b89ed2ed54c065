// Shared data and checks for the algorithm tests (real workers, real tfjs).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../../src/util/rng';

/** y = sin(x0) + 0.5 x1 - x2^2 / 2 + noise, x ~ N(0, I): a smooth 3-feature regression. */
export function regressionData(n: number, seed: number): { x: Float32Array; xShape: number[]; y: Float32Array; yShape: number[] } {
  const rng = new Rng(seed);
  const x = rng.fillNormal(new Float32Array(n * 3));
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = Math.sin(x[3 * i]) + 0.5 * x[3 * i + 1] - 0.5 * x[3 * i + 2] ** 2 + 0.1 * rng.normal();
  return { x, xShape: [n, 3], y, yShape: [n, 1] };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `push-ens-${prefix}-`));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Tracks what a test opened (posteriors, dists) so a failing step still closes everything. */
export class OpenResources {
  private readonly items: { close(): Promise<void> }[] = [];

  add<T extends { close(): Promise<void> }>(item: T): T {
    this.items.push(item);
    return item;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.items.splice(0).map((i) => i.close()));
  }
}
