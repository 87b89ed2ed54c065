import { classificationMetrics, regressionMetrics } from '../../src/bayes/metrics';
import {
  CLASSIFICATION_MODES,
  GAUSSIAN_REGRESSION_MODES,
  PredictiveReducer,
  REGRESSION_MODES,
  memberMetrics,
  reducePredictions,
  softplusVariance,
} from '../../src/bayes/predictive';
import { PushInputError } from '../../src/util/errors';
import { Rng } from '../../src/util/rng';

const f32 = (xs: number[]) => new Float32Array(xs);
const close = (actual: Float32Array, expected: number[], digits = 5) => {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, digits));
};

describe('regression modes', () => {
  // N = 1, S = 4, out = 2; members (rows): [1, 10], [3, 20], [2, 40], [6, 30]
  const pred = f32([1, 10, 3, 20, 2, 40, 6, 30]);
  const dims = { N: 1, S: 4, out: 2 };
  const r = reducePredictions(pred, dims, REGRESSION_MODES, 'regression');

  test('mean / median / min / max', () => {
    // output 0: 1, 3, 2, 6 -> mean 3, sorted 1 2 3 6 -> median (2 + 3)/2 = 2.5, min 1, max 6
    // output 1: 10, 20, 40, 30 -> mean 25, sorted 10 20 30 40 -> median 25, min 10, max 40
    close(r.mean.data, [3, 25]);
    close(r.median.data, [2.5, 25]);
    close(r.min.data, [1, 10]);
    close(r.max.data, [6, 40]);
    expect(r.mean.shape).toEqual([1, 2]);
  });

  test('std is the population std over members (divide by S)', () => {
    // output 0: deviations −2, 0, −1, 3 -> squares 4 + 0 + 1 + 9 = 14 -> 14/4 = 3.5 -> 1.870829
    // output 1: deviations −15, −5, 15, 5 -> 225 + 25 + 225 + 25 = 500 -> 500/4 = 125 -> 11.180340
    close(r.std.data, [Math.sqrt(3.5), Math.sqrt(125)]);
  });

  test('pred is the stack itself, copied', () => {
    expect(r.pred.shape).toEqual([1, 4, 2]);
    expect(Array.from(r.pred.data)).toEqual(Array.from(pred));
    expect(r.pred.data).not.toBe(pred);
  });

  test('odd S median is the middle member', () => {
    // members 5, 1, 3 -> sorted 1 3 5 -> 3
    const m = reducePredictions(f32([5, 1, 3]), { N: 1, S: 3, out: 1 }, ['median'], 'regression');
    close(m.median.data, [3]);
  });

  test('unknown mode: one-line error listing the valid ones', () => {
    const call = () => reducePredictions(pred, dims, ['mean', 'avg'], 'regression');
    expect(call).toThrow(PushInputError);
    expect(call).toThrow(/"avg" is not valid for regression: expected one of mean, median, min, max, std, pred$/);
    expect(() => reducePredictions(pred, dims, ['entropy'], 'regression')).toThrow(/expected one of/);
  });

  test('wrong stack length names the expected shape', () => {
    expect(() => reducePredictions(pred, { N: 2, S: 4, out: 2 }, ['mean'], 'regression')).toThrow(
      /pred has length 8: expected 16 \(\[N = 2, S = 4, out = 2\]\)/,
    );
  });
});

describe('gaussian regression modes', () => {
  test('softplusVariance', () => {
    // softplus(0) = ln 2; softplus(50) = 50 (no overflow); softplus(−50) ≈ e^−50
    expect(softplusVariance(0)).toBeCloseTo(Math.log(2) + 1e-6, 12);
    expect(softplusVariance(50)).toBeCloseTo(50 + 1e-6, 10);
    expect(softplusVariance(-50)).toBeCloseTo(1e-6, 15);
    close(softplusVariance(f32([0, 50])), [Math.log(2) + 1e-6, 50]);
  });

  test('mixture mean, aleatoric_var, epistemic_var, total variance', () => {
    // N = 1, S = 2, d = 1. Member 0: mean 1, raw 0 -> var ln 2 + 1e-6 = 0.693148
    //                      member 1: mean 3, raw ln(e³ − 1) -> var 3 + 1e-6
    // mean = 2; aleatoric = (0.693147 + 3)/2 + 1e-6 = 1.846575; epistemic = ((1−2)² + (3−2)²)/2 = 1
    // variance = 2.846575; std = 1.687179; median 2, min 1, max 3
    const pred = f32([1, 0, 3, Math.log(Math.exp(3) - 1)]);
    const r = reducePredictions(pred, { N: 1, S: 2, out: 2 }, GAUSSIAN_REGRESSION_MODES, 'regression', {
      gaussian: true,
    });
    close(r.mean.data, [2]);
    close(r.aleatoric_var.data, [1.8465745902799726]);
    close(r.epistemic_var.data, [1]);
    close(r.variance.data, [2.8465745902799726]);
    close(r.std.data, [1.6871794777912552]);
    close(r.median.data, [2]);
    close(r.min.data, [1]);
    close(r.max.data, [3]);
    expect(r.variance.shape).toEqual([1, 1]);
    expect(r.pred.shape).toEqual([1, 2, 2]);
  });

  test('the old mode names aleatoric and epistemic name their replacements', () => {
    const pred = f32([1, 0, 3, 0]);
    for (const [old, now] of [['aleatoric', 'aleatoric_var'], ['epistemic', 'epistemic_var']]) {
      expect(() => reducePredictions(pred, { N: 1, S: 2, out: 2 }, [old as never], 'regression', { gaussian: true })).toThrow(
        new RegExp(`prediction mode "${old}" is now "${now}" \\(it is a variance, not a std\\)`),
      );
    }
  });

  test('odd out is rejected for gaussian stacks', () => {
    expect(() => reducePredictions(f32([1, 2, 3]), { N: 1, S: 1, out: 3 }, ['mean'], 'regression', { gaussian: true })).toThrow(
      /out = 3: expected an even number/,
    );
  });
});

describe('classification modes', () => {
  // N = 1, S = 3, C = 3; logits chosen so the member softmaxes are
  //   p0 = [0.5, 0.25, 0.25], p1 = [1/3, 1/3, 1/3], p2 = [0.2, 0.2, 0.6]
  const logits = f32([
    Math.log(0.5), Math.log(0.25), Math.log(0.25),
    0, 0, 0,
    Math.log(0.2), Math.log(0.2), Math.log(0.6),
  ]);
  const dims = { N: 1, S: 3, out: 3 };
  const r = reducePredictions(logits, dims, CLASSIFICATION_MODES, 'classification');

  test('logits and prob are full stacks', () => {
    expect(r.logits.shape).toEqual([1, 3, 3]);
    expect(Array.from(r.logits.data)).toEqual(Array.from(logits));
    expect(r.prob.shape).toEqual([1, 3, 3]);
    close(r.prob.data, [0.5, 0.25, 0.25, 1 / 3, 1 / 3, 1 / 3, 0.2, 0.2, 0.6], 6);
  });

  test('mean_prob is the average of member softmaxes', () => {
    // [(0.5 + 1/3 + 0.2)/3, (0.25 + 1/3 + 0.2)/3, (0.25 + 1/3 + 0.6)/3] = [0.344444, 0.261111, 0.394444]
    close(r.mean_prob.data, [0.3444444444444444, 0.26111111111111107, 0.3944444444444444], 6);
    expect(r.mean_prob.shape).toEqual([1, 3]);
  });

  test('std over members of probabilities (population)', () => {
    // class 0: 0.5, 0.3333, 0.2, mean 0.344444: dev² 0.0241975 + 0.0001235 + 0.0208642 = 0.0451852; /3 -> sqrt = 0.122726
    close(r.std.data, [0.1227262335243029, 0.054997194092287024, 0.14927809825049335], 6);
  });

  test('mode is the majority vote of member arg-maxes', () => {
    // arg-maxes: member 0 -> 0, member 1 -> tie (0) , member 2 -> 2; votes 2:1 for class 0
    expect(Array.from(r.mode.data)).toEqual([0]);
    expect(r.mode.shape).toEqual([1]);
    // Vote tie: members vote 2 and 1 -> smallest class, 1.
    const tie = reducePredictions(f32([0, 0, 5, 0, 5, 0]), { N: 1, S: 2, out: 3 }, ['mode'], 'classification');
    expect(Array.from(tie.mode.data)).toEqual([1]);
  });

  test('entropy, expected entropy and mutual information (nats)', () => {
    // H[p0] = 0.5 ln 2 + 0.5 ln 4 = 1.039721; H[p1] = ln 3 = 1.098612; H[p2] = 0.4 ln 5 + 0.6 ln(5/3) = 0.950271
    // expected_entropy = (1.039721 + 1.098612 + 0.950271)/3 = 1.029535
    // entropy = H[0.344444, 0.261111, 0.394444] = 1.084682
    // mutual_info = 1.084682 − 1.029535 = 0.055147
    close(r.expected_entropy.data, [1.029534532913754], 6);
    close(r.entropy.data, [1.0846816263174226], 6);
    close(r.mutual_info.data, [0.055147093403668634], 6);
  });

  test('mutual information is 0 when all members agree', () => {
    const rng = new Rng(7);
    const N = 20;
    const S = 5;
    const C = 4;
    const stack = new Float32Array(N * S * C);
    for (let n = 0; n < N; n++) {
      const row = rng.fillNormal(new Float32Array(C), 0, 1);
      for (let s = 0; s < S; s++) stack.set(row, (n * S + s) * C);
    }
    const a = reducePredictions(stack, { N, S, out: C }, ['mutual_info', 'entropy', 'expected_entropy'], 'classification');
    for (let n = 0; n < N; n++) {
      expect(a.mutual_info.data[n]).toBeGreaterThanOrEqual(0);
      expect(a.mutual_info.data[n]).toBeLessThan(1e-7);
      expect(a.entropy.data[n]).toBeGreaterThan(0.01); // not trivially zero
    }
  });
});

describe('BMA versus members', () => {
  test('BMA MSE ≤ mean member MSE (convexity of the squared error)', () => {
    const rng = new Rng(11);
    const N = 200;
    const S = 6;
    const out = 2;
    const pred = rng.fillNormal(new Float32Array(N * S * out));
    const y = rng.fillNormal(new Float32Array(N * out));
    const reducer = new PredictiveReducer('regression', ['mean']);
    reducer.push(pred, { N, S, out }, y);
    const bma = reducer.metrics().rmse ** 2;
    const members = memberMetrics(pred, { N, S, out }, y, 'regression');
    expect(members).toHaveLength(S);
    const meanMemberMse = members.reduce((a, m) => a + m.rmse ** 2, 0) / S;
    expect(bma).toBeLessThanOrEqual(meanMemberMse);
    // Jensen gap = mean over examples of the member spread: clearly positive here.
    expect(meanMemberMse - bma).toBeGreaterThan(0.5);
  });

  test('BMA NLL ≤ mean member NLL (convexity of −log)', () => {
    const rng = new Rng(12);
    const N = 100;
    const S = 4;
    const C = 5;
    const logits = rng.fillNormal(new Float32Array(N * S * C), 0, 2);
    const labels = new Int32Array(N).map(() => rng.int(C));
    const members = memberMetrics(logits, { N, S, out: C }, labels, 'classification');
    const reducer = new PredictiveReducer('classification', []);
    reducer.push(logits, { N, S, out: C }, labels);
    const bma = reducer.metrics();
    expect(bma.nll).toBeLessThanOrEqual(members.reduce((a, m) => a + m.nll, 0) / S);
    // Member 0 by hand: softmax of its logits, then classificationMetrics.
    const p0 = new Float32Array(N * C);
    for (let n = 0; n < N; n++) {
      const row = logits.subarray(n * S * C, n * S * C + C);
      const mx = Math.max(...row);
      const z = Array.from(row).reduce((a, v) => a + Math.exp(v - mx), 0);
      for (let c = 0; c < C; c++) p0[n * C + c] = Math.exp(row[c] - mx) / z;
    }
    const direct = classificationMetrics({ probs: p0, C, labels });
    expect(members[0].accuracy).toBe(direct.accuracy);
    expect(members[0].nll).toBeCloseTo(direct.nll, 5);
  });
});

describe('streaming', () => {
  function chunked<T>(N: number, sizes: number[], f: (start: number, n: number) => T): T[] {
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(N);
    let at = 0;
    return sizes.map((n) => {
      const r = f(at, n);
      at += n;
      return r;
    });
  }

  test('classification: 3 chunks equal one shot (outputs and metrics)', () => {
    const rng = new Rng(3);
    const N = 37;
    const S = 4;
    const C = 3;
    const logits = rng.fillNormal(new Float32Array(N * S * C), 0, 2);
    const labels = new Int32Array(N).map(() => rng.int(C));

    const one = new PredictiveReducer('classification', CLASSIFICATION_MODES, { trackMembers: true });
    one.push(logits, { N, S, out: C }, labels);
    const many = new PredictiveReducer('classification', CLASSIFICATION_MODES, { trackMembers: true });
    const buffer = new Float32Array(N * S * C); // reused across pushes, as a data loader would
    chunked(N, [10, 20, 7], (start, n) => {
      const part = buffer.subarray(0, n * S * C);
      part.set(logits.subarray(start * S * C, (start + n) * S * C));
      many.push(part, { N: n, S, out: C }, labels.subarray(start, start + n));
    });
    const a = one.result();
    const b = many.result();
    for (const m of CLASSIFICATION_MODES) {
      expect(b[m].shape).toEqual(a[m].shape);
      expect(b[m].data).toEqual(a[m].data);
    }
    expect(b.mean_prob.shape).toEqual([N, C]);
    expect(many.count).toBe(N);
    expect(many.metrics()).toEqual(one.metrics());
    expect(many.memberMetrics()).toEqual(one.memberMetrics());
    // The streamed metrics are those of the reduced BMA.
    expect(one.metrics()).toEqual(classificationMetrics({ probs: a.mean_prob.data, C, labels }));
  });

  test('gaussian regression: 3 chunks equal one shot (outputs and metrics)', () => {
    const rng = new Rng(4);
    const N = 30;
    const S = 3;
    const d = 2;
    const pred = rng.fillNormal(new Float32Array(N * S * 2 * d));
    const y = rng.fillNormal(new Float32Array(N * d));
    const opts = { gaussian: true };
    const one = new PredictiveReducer('regression', GAUSSIAN_REGRESSION_MODES, opts);
    one.push(pred, { N, S, out: 2 * d }, y);
    const many = new PredictiveReducer('regression', GAUSSIAN_REGRESSION_MODES, opts);
    chunked(N, [1, 28, 1], (start, n) =>
      many.push(pred.slice(start * S * 2 * d, (start + n) * S * 2 * d), { N: n, S, out: 2 * d }, y.slice(start * d, (start + n) * d)),
    );
    const a = one.result();
    const b = many.result();
    for (const m of GAUSSIAN_REGRESSION_MODES) {
      expect(b[m].shape).toEqual(a[m].shape);
      expect(b[m].data).toEqual(a[m].data);
    }
    const m = many.metrics();
    expect(m).toEqual(one.metrics());
    expect(m.nll).toBeDefined();
    const direct = regressionMetrics({ mean: a.mean.data, variance: a.variance.data, y });
    expect(m.rmse).toBeCloseTo(direct.rmse, 12);
    expect(m.nll!).toBeCloseTo(direct.nll!, 12);
  });

  test('a batch with a different S is rejected; metrics need targets', () => {
    const r = new PredictiveReducer('regression', ['mean']);
    r.push(f32([1, 2]), { N: 1, S: 2, out: 1 });
    expect(() => r.push(f32([1, 2, 3]), { N: 1, S: 3, out: 1 })).toThrow(/S = 3, out = 1: expected S = 2, out = 1/);
    expect(() => r.metrics()).toThrow(/pass y to push/);
    expect(() => r.push(f32([1, 2]), { N: 1, S: 2, out: 1 }, f32([0]))).toThrow(/targets/);
  });
});
