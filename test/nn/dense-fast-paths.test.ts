// The explicit dense path's shortcuts: no W^T upload for the first dense layer
// (it has no input gradient), and gradients read straight from wasm's heap. A
// group's gradients must still equal autodiff's, per particle, for several P
// (including more rows than the group's initial capacity), with dropout on and
// off (masks per particle), on wasm and cpu, without leaking tensors.
import { tf, useBackend } from '../../src/util/tf';
import { deriveSeed } from '../../src/util/rng';
import { ParticleGroup, compileModel, lossAndGrad, dense, parseLoss } from '../../src/nn';
import { uploadDenseParams } from '../../src/nn/dense-backward';
import { normalTensor, relDiff } from './helpers';

afterAll(() => useBackend('wasm'));

describe.each(['wasm', 'cpu'] as const)('dense fast paths (%s)', (backend) => {
  beforeAll(() => useBackend(backend));

  test('uploads W^T for every dense layer but the first, equal to the transpose', () => {
    const net = compileModel(dense([5, 7, 3, 2]));
    const rows = [1, 2, 3].map((s) => net.initParams(s));
    for (const ps of [[rows[0]], rows]) {
      const P = ps.length;
      const up = uploadDenseParams(net, ps);
      const weights = net.layout.map((e, i) => ({ e, i })).filter(({ e }) => e.kind === 'weight');
      expect(up.transposed[weights[0].i]).toBeUndefined();
      for (const { e, i } of weights.slice(1)) {
        const t = up.transposed[i]!;
        expect(t.shape).toEqual([P, e.shape[1], e.shape[0]]);
        const expected = tf.tidy(() => tf.transpose(up.tensors[i].reshape([P, ...e.shape]), [0, 2, 1]));
        expect(Array.from(t.dataSync())).toEqual(Array.from(expected.dataSync()));
        expected.dispose();
      }
      tf.dispose([...up.tensors, ...up.transposed.filter((t): t is tf.Tensor => t !== undefined)]);
    }
  });

  test.each([
    [1, 0],
    [3, 0.3],
    [6, 0.3],
    [6, 0],
  ])('P=%i, dropout %d: group gradients equal autodiff per particle (1e-5 relative), no leaks', (P, rate) => {
    const net = compileModel(dense([12, 40, 24, 3], { dropout: rate }));
    const loss = parseLoss('cross-entropy');
    const group = new ParticleGroup(net, { seed: 5, initialCapacity: 4 });
    for (let p = 0; p < P; p++) group.add();
    const x = normalTensor([16, 12], 1);
    const y = tf.tensor1d([0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2, 1, 1, 0, 2], 'int32');
    const rows = Array.from({ length: P }, (_, i) => P - 1 - i); // reversed: row order must not matter
    for (const training of [true, false]) {
      const before = tf.memory().numTensors;
      const seeds = rows.map((r) => deriveSeed(77, r));
      const losses = group.computeGrads(rows, { x, y }, loss, { training, dropoutSeeds: seeds });
      expect(tf.memory().numTensors).toBe(before);
      rows.forEach((r, k) => {
        const grad = new Float32Array(net.numParams);
        const params = net.materialize(group.row(r).params);
        const value = lossAndGrad(net, params, x, y, loss, grad, { method: 'autodiff', training, dropoutSeed: seeds[k] });
        tf.dispose(params);
        expect(relDiff(group.row(r).grads, grad)).toBeLessThan(1e-5);
        expect(Math.abs(losses[k] - value)).toBeLessThan(1e-5 * Math.max(1, Math.abs(value)));
      });
      if (rate > 0 && training && P > 1) {
        // Per-particle masks: same parameters, different seeds, different gradients.
        const twin = new ParticleGroup(net, { seed: 5 });
        twin.add(group.row(0).params);
        twin.add(group.row(0).params);
        twin.computeGrads([0, 1], { x, y }, loss, { dropoutSeeds: [1, 2] });
        expect(relDiff(twin.row(0).grads, twin.row(1).grads)).toBeGreaterThan(1e-3);
      }
    }
    tf.dispose([x, y]);
  });
});
