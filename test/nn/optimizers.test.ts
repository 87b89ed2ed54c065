// Fused host optimizers: PyTorch update rules by hand, group update = per-row updates.
import { PushInputError } from '../../src/util/errors';
import { Rng } from '../../src/util/rng';
import { OptimizerInput, RowUpdate, createOptimizer, parseOptimizerConfig } from '../../src/nn';

/** Runs `grads.length` steps of one scalar parameter starting at p0; returns p after each step. */
function trajectory(config: OptimizerInput, p0: number, grads: number[], lr?: number): number[] {
  const opt = createOptimizer(config);
  const params = Float32Array.of(p0);
  const slots = opt.slotNames.map(() => new Float32Array(1));
  return grads.map((g, i) => {
    opt.update(params, Float32Array.of(g), slots, [{ row: 0, lr: lr ?? opt.config.lr, step: i + 1 }], 1);
    return params[0];
  });
}

describe('sgd (torch.optim.SGD)', () => {
  test('plain step and L2 weight decay', () => {
    expect(trajectory({ type: 'sgd', lr: 0.1 }, 1, [0.5])[0]).toBeCloseTo(0.95, 6);
    expect(trajectory({ type: 'sgd', lr: 0.1, weightDecay: 0.1 }, 1, [0.5])[0]).toBeCloseTo(1 - 0.1 * (0.5 + 0.1), 6);
  });

  test('momentum: the buffer starts as the first gradient (dampening not applied on step 1)', () => {
    const [p1, p2] = trajectory({ type: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0.5 }, 1, [0.5, 0.5]);
    expect(p1).toBeCloseTo(0.95, 6); // buf = 0.5
    expect(p2).toBeCloseTo(0.95 - 0.1 * (0.9 * 0.5 + 0.5 * 0.5), 6); // buf = 0.7
  });

  test('nesterov: p -= lr * (g + momentum * buf)', () => {
    const [p1, p2] = trajectory({ type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }, 1, [0.5, 0.2]);
    expect(p1).toBeCloseTo(1 - 0.1 * (0.5 + 0.9 * 0.5), 6);
    const buf2 = 0.9 * 0.5 + 0.2;
    expect(p2).toBeCloseTo(p1 - 0.1 * (0.2 + 0.9 * buf2), 6);
  });

  test('no slot without momentum; lr defaults to 0.01', () => {
    expect(createOptimizer('sgd').slotNames).toEqual([]);
    expect(createOptimizer({ type: 'sgd', momentum: 0.9 }).slotNames).toEqual(['momentum_buffer']);
    expect(parseOptimizerConfig('sgd')).toEqual({ type: 'sgd', lr: 0.01, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 });
  });
});

describe('adam and adamw (torch.optim.Adam / AdamW)', () => {
  function adamByHand(p: number, grads: number[], lr: number, wd = 0, decoupled = false): number[] {
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    let m = 0;
    let v = 0;
    return grads.map((g0, i) => {
      const t = i + 1;
      let g = g0;
      if (decoupled) p *= 1 - lr * wd;
      else g += wd * p;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      p -= ((lr / (1 - b1 ** t)) * m) / (Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps);
      return p;
    });
  }

  test('adam: first step moves by lr, then bias-corrected moments', () => {
    const got = trajectory({ type: 'adam', lr: 0.1 }, 1, [0.5, -0.25, 0.1]);
    expect(got[0]).toBeCloseTo(0.9, 6);
    adamByHand(1, [0.5, -0.25, 0.1], 0.1).forEach((want, i) => expect(got[i]).toBeCloseTo(want, 6));
  });

  test('adam weightDecay is L2 added to the gradient; adamw decays the weights (default 0.01)', () => {
    const l2 = trajectory({ type: 'adam', lr: 0.1, weightDecay: 0.1 }, 2, [0.5, 0.3]);
    adamByHand(2, [0.5, 0.3], 0.1, 0.1).forEach((want, i) => expect(l2[i]).toBeCloseTo(want, 6));
    const w = trajectory({ type: 'adamw', lr: 0.1 }, 2, [0.5, 0.3]);
    expect(w[0]).toBeCloseTo(2 * (1 - 0.1 * 0.01) - 0.1, 6);
    adamByHand(2, [0.5, 0.3], 0.1, 0.01, true).forEach((want, i) => expect(w[i]).toBeCloseTo(want, 6));
  });

  test('defaults follow PyTorch', () => {
    expect(parseOptimizerConfig('adam')).toEqual({ type: 'adam', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
    expect(parseOptimizerConfig({ type: 'adamw' })).toMatchObject({ lr: 1e-3, weightDecay: 0.01 });
    expect(createOptimizer('adam').slotNames).toEqual(['exp_avg', 'exp_avg_sq']);
  });
});

describe('fused group update', () => {
  const configs: [string, OptimizerInput][] = [
    ['adam', { type: 'adam', lr: 0.01, weightDecay: 0.05 }],
    ['adamw', { type: 'adamw' }],
    ['sgd', { type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }],
  ];
  test.each(configs)('%s: updating rows of a [P, n] group equals updating each row alone', (_t, config) => {
    const n = 37;
    const P = 4;
    const rng = new Rng(5);
    const params = rng.fillNormal(new Float32Array(P * n));
    const grads = rng.fillNormal(new Float32Array(P * n));
    const opt = createOptimizer(config);
    const slots = opt.slotNames.map(() => rng.fillUniform(new Float32Array(P * n), 0, 0.1));
    const rows: RowUpdate[] = [
      { row: 2, lr: 0.05, step: 3 },
      { row: 0, lr: 0.001, step: 1 },
      { row: 3, lr: 0.2, step: 10 },
    ];
    const alone = rows.map(({ row, lr, step }) => {
      const p = params.slice(row * n, (row + 1) * n);
      const s = slots.map((b) => b.slice(row * n, (row + 1) * n));
      opt.update(p, grads.slice(row * n, (row + 1) * n), s, [{ row: 0, lr, step }], n);
      return { p, s };
    });
    const untouched = params.slice(n, 2 * n);
    opt.update(params, grads, slots, rows, n);
    rows.forEach(({ row }, k) => {
      expect(Array.from(params.subarray(row * n, (row + 1) * n))).toEqual(Array.from(alone[k].p));
      slots.forEach((b, i) => expect(Array.from(b.subarray(row * n, (row + 1) * n))).toEqual(Array.from(alone[k].s[i])));
    });
    expect(Array.from(params.subarray(n, 2 * n))).toEqual(Array.from(untouched)); // row 1 not listed
  });

  test('maximize ascends: same as descending the negated gradient', () => {
    const opt = createOptimizer({ type: 'adam', lr: 0.1 });
    const a = Float32Array.of(1, 2);
    const b = Float32Array.of(1, 2);
    const sa = [new Float32Array(2), new Float32Array(2)];
    const sb = [new Float32Array(2), new Float32Array(2)];
    opt.update(a, Float32Array.of(0.3, -0.7), sa, [{ row: 0, lr: 0.1, step: 1 }], 2, { maximize: true });
    opt.update(b, Float32Array.of(-0.3, 0.7), sb, [{ row: 0, lr: 0.1, step: 1 }], 2);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a[0]).toBeGreaterThan(1);
  });
});

test('bad optimizer configs are one-line PushInputErrors naming the value', () => {
  expect(() => parseOptimizerConfig('rmsprop')).toThrow(/unknown optimizer "rmsprop": expected one of sgd, adam, adamw/);
  expect(() => parseOptimizerConfig({ type: 'adam', learningRate: 0.1 })).toThrow(/unknown option "learningRate": expected lr, betas, eps, weightDecay/);
  expect(() => parseOptimizerConfig({ type: 'sgd', lr: -1 })).toThrow(/lr -1: expected a number >= 0/);
  expect(() => parseOptimizerConfig({ type: 'sgd', nesterov: true })).toThrow(/nesterov needs momentum > 0/);
  expect(() => parseOptimizerConfig({ type: 'adam', betas: [0.9, 1] })).toThrow(PushInputError);
});
