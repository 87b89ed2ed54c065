// Shared helpers for the src/nn tests: seeded data and array comparisons.
import { tf } from '../../src/util/tf';
import { Rng } from '../../src/util/rng';
import { LossName, Network, ParticleGroup, lossAndGrad, parseLoss } from '../../src/nn';
import { RunnerKind } from '../../src/nn/kernel-runner';

/** A seeded standard-normal tensor (same values on every backend). */
export function normalTensor(shape: number[], seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(new Rng(seed).fillNormal(new Float32Array(size)), shape);
}

/** Largest |a_i - b_i|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max|a - b| / max|b|: a relative error that ignores tiny entries' noise. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return maxAbsDiff(a, b) / (scale || 1);
}

export function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/**
 * A ParticleGroup's gradients (3 particles; a shared batch, a batch per particle, output
 * offsets) equal autodiff's per particle within 1e-5 relative, and computing them leaks no
 * tensor: the check of each per-particle dense pass.
 */
export function expectGroupGradsMatchAutodiff(net: Network, inputs: number[], outputs: number, lossName: LossName): void {
  const loss = parseLoss(lossName);
  const B = 16;
  const x = normalTensor([B, ...inputs], 3);
  const y =
    lossName === 'cross-entropy'
      ? tf.tensor1d(Array.from({ length: B }, (_, i) => i % outputs), 'int32')
      : lossName === 'bce'
        ? tf.tidy(() => tf.cast(tf.greater(normalTensor([B, outputs], 4), 0), 'float32'))
        : normalTensor([B, outputs], 4);
  const perRow = [0, 1, 2].map((k) => ({ x: normalTensor([B, ...inputs], 10 + k), y }));
  const offsets = [0, 1, 2].map((k) => normalTensor([B, outputs], 20 + k));
  const group = new ParticleGroup(net, { seed: 9 });
  for (let p = 0; p < 3; p++) group.add();
  const rows = [2, 0, 1];
  for (const variant of ['shared', 'per-row', 'offsets'] as const) {
    const before = tf.memory().numTensors;
    const batches = variant === 'per-row' ? perRow : { x, y };
    const losses = group.computeGrads(rows, batches, loss, variant === 'offsets' ? { outputOffsets: offsets } : {});
    expect(tf.memory().numTensors).toBe(before);
    rows.forEach((r, k) => {
      const grad = new Float32Array(net.numParams);
      const params = net.materialize(group.row(r).params);
      const b = variant === 'per-row' ? perRow[k] : { x, y };
      const value = lossAndGrad(net, params, b.x, b.y, loss, grad, { method: 'autodiff', outputOffset: variant === 'offsets' ? offsets[k] : undefined });
      tf.dispose(params);
      expect(relDiff(group.row(r).grads, grad)).toBeLessThan(1e-5);
      expect(Math.max(...Array.from(grad, Math.abs))).toBeGreaterThan(1e-4); // not trivially zero
      expect(Math.abs(losses[k] - value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(value)));
    });
  }
  tf.dispose([x, y, ...perRow.map((b) => b.x), ...offsets]);
}

/**
 * Every kernel runner gives the same gradient (raw wasm and direct to the bit, the engine to
 * 1e-6), and each frees its tensors and backend buffers. `gradWith` fills a gradient row
 * using the given runner; it runs inside tf.tidy.
 */
export function expectRunnersAgree(numParams: number, gradWith: (kind: RunnerKind, grad: Float32Array) => void): void {
  const kinds: RunnerKind[] = ['fastest', 'direct', 'engine'];
  const dataIds = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  const grads = kinds.map((kind) => {
    const grad = new Float32Array(numParams);
    const [tensorsBefore, idsBefore] = [tf.memory().numTensors, dataIds()];
    tf.tidy(() => gradWith(kind, grad));
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(dataIds()).toBe(idsBefore);
    return grad;
  });
  expect(Array.from(grads[1])).toEqual(Array.from(grads[0]));
  expect(relDiff(grads[2], grads[0])).toBeLessThan(1e-6);
}
