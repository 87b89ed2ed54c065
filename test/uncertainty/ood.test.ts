// OOD metrics and selective prediction against answers worked out by hand and by brute force.
import { PredictiveReducer } from '../../src/bayes/predictive';
import {
  accuracyRejection,
  aurc,
  auroc,
  averagePrecision,
  correctness,
  evaluateOodScores,
  fprAtTpr,
  oodMetrics,
  oodScoreModes,
  oodScores,
  riskCoverage,
  rocCurve,
} from '../../src/uncertainty/ood';
import { Rng } from '../../src/util/rng';

/** P(out > in) + ½ P(out = in) over every pair. */
function pairwiseAuroc(sIn: number[], sOut: number[]): number {
  let s = 0;
  for (const o of sOut) for (const i of sIn) s += o > i ? 1 : o === i ? 0.5 : 0;
  return s / (sIn.length * sOut.length);
}

describe('OOD metrics', () => {
  test('sklearn\'s documented example: AUROC 0.75, average precision 0.8333', () => {
    // roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75; average_precision_score(...) = 0.8333.
    expect(auroc([0.1, 0.4], [0.35, 0.8])).toBeCloseTo(0.75, 12);
    expect(averagePrecision([0.35, 0.8], [0.1, 0.4])).toBeCloseTo(5 / 6, 12);
    // AUPR-In ranks in-distribution examples by −s: descending −0.1 (in), −0.35 (out), −0.4 (in), −0.8 (out):
    // precisions at the in examples 1 and 2/3, recall steps 1/2 each.
    expect(oodMetrics([0.1, 0.4], [0.35, 0.8]).auprIn).toBeCloseTo(0.5 * 1 + 0.5 * (2 / 3), 12);
  });

  test('ties count half in AUROC and enter average precision together', () => {
    expect(auroc([1, 1], [1, 2])).toBe(0.75);
    // Descending: 2 (out) → P = 1, R = 1/2; then {1, 1, 1} (1 out, 2 in) together → P = 2/4, R = 1.
    expect(averagePrecision([1, 2], [1, 1])).toBe(0.5 * 1 + 0.5 * 0.5);
    // All tied: AUROC 1/2, AP = the positive fraction.
    expect(auroc([3, 3, 3], [3])).toBe(0.5);
    expect(averagePrecision([3], [3, 3, 3])).toBe(0.25);
  });

  test('AUROC equals the brute-force pairwise count on random scores with many ties', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 20; trial++) {
      const sIn = Array.from({ length: 1 + rng.int(60) }, () => Math.round(rng.normal() * 3) / 3);
      const sOut = Array.from({ length: 1 + rng.int(60) }, () => Math.round((rng.normal() + 0.7) * 3) / 3);
      expect(auroc(sIn, sOut)).toBeCloseTo(pairwiseAuroc(sIn, sOut), 12);
      // The ROC curve's trapezoid area is the same number.
      const { fpr, tpr } = rocCurve(sIn, sOut);
      let area = 0;
      for (let k = 1; k < fpr.length; k++) area += ((fpr[k] - fpr[k - 1]) * (tpr[k] + tpr[k - 1])) / 2;
      expect(area).toBeCloseTo(pairwiseAuroc(sIn, sOut), 12);
      expect([fpr[0], tpr[0], fpr[fpr.length - 1], tpr[tpr.length - 1]]).toEqual([0, 0, 1, 1]);
    }
  });

  test('FPR at 95% TPR: the smallest threshold keeping 95% of in-distribution examples, ties accepted', () => {
    const sIn = Array.from({ length: 20 }, (_, i) => i); // 19 of 20 accepted at t = 18
    expect(fprAtTpr(sIn, [18.5, 19, 25, 30])).toBe(0);
    expect(fprAtTpr(sIn, [18, 19, 25, 30])).toBe(0.25); // a tie at the threshold is accepted
    const ten = Array.from({ length: 10 }, (_, i) => i); // ceil(9.5) = 10: every one, t = 9
    expect(fprAtTpr(ten, [5, 9, 10])).toBeCloseTo(2 / 3, 12);
    expect(fprAtTpr([0, 0, 0, 0], [0, 1])).toBe(0.5);
  });

  test('perfect and reversed separation', () => {
    expect(oodMetrics([0, 1, 2], [3, 4])).toEqual({ auroc: 1, auprIn: 1, auprOut: 1, fpr95: 0 });
    const rev = oodMetrics([3, 4], [0, 1, 2]);
    expect(rev.auroc).toBe(0);
    expect(rev.fpr95).toBe(1);
    expect(oodMetrics([0, 1], [Infinity, -Infinity]).auroc).toBe(0.5);
    expect(() => auroc([0, NaN], [1])).toThrow(/scoresIn\[1\] is NaN/);
    expect(() => auroc([], [1])).toThrow(/scoresIn is empty/);
  });
});

describe('scores from a posterior predictive', () => {
  test('classification: 1 − max p̄, entropy of the BMA and mutual information', () => {
    // Example 0: members sure of different classes. Example 1: both members agree, uniform.
    const logits = new Float32Array([40, 0, 0, 40, 0, 0, 0, 0]); // [N=2, S=2, C=2]
    const reducer = new PredictiveReducer('classification', oodScoreModes('classification'));
    reducer.push(logits, { N: 2, S: 2, out: 2 });
    const s = oodScores('classification', reducer.result());
    expect(s.max_prob![0]).toBeCloseTo(0.5, 6);
    expect(s.entropy![0]).toBeCloseTo(Math.LN2, 6);
    expect(s.mutual_info![0]).toBeCloseTo(Math.LN2, 6);
    expect(s.entropy![1]).toBeCloseTo(Math.LN2, 6);
    expect(s.mutual_info![1]).toBeCloseTo(0, 6); // all aleatoric
  });

  test('regression: total and epistemic std of a gaussian BMA; member spread for plain models', () => {
    // One example, two members: means 1 and 3, raw variances giving softplus(raw) + 1e-6 = 1 and 4.
    const inv = (v: number) => Math.log(Math.expm1(v - 1e-6));
    const stack = new Float32Array([1, inv(1), 3, inv(4)]);
    const g = new PredictiveReducer('regression', oodScoreModes('regression', true), { gaussian: true });
    g.push(stack, { N: 1, S: 2, out: 2 });
    const s = oodScores('regression', g.result(), true);
    // aleatoric = (1 + 4) / 2 = 2.5, epistemic = ((1−2)² + (3−2)²) / 2 = 1.
    expect(s.std_total![0]).toBeCloseTo(Math.sqrt(3.5), 5);
    expect(s.std_epistemic![0]).toBeCloseTo(1, 5);
    const plain = new PredictiveReducer('regression', oodScoreModes('regression'));
    plain.push(new Float32Array([1, 3]), { N: 1, S: 2, out: 1 });
    const p = oodScores('regression', plain.result());
    expect(p.std_total![0]).toBeCloseTo(1, 6);
    expect(p.std_epistemic![0]).toBeCloseTo(1, 6);
    expect(() => oodScores('regression', plain.result(), true)).toThrow(/prediction has no "variance"/);
  });

  test('evaluateOodScores gives every score its metrics', () => {
    const r = evaluateOodScores({ entropy: [0, 1], max_prob: [0, 0] }, { entropy: [2, 3], max_prob: [0, 0] });
    expect(r.entropy!.auroc).toBe(1);
    expect(r.max_prob!.auroc).toBe(0.5);
    expect(() => evaluateOodScores({ entropy: [0] }, {})).toThrow(/OOD scores lack "entropy"/);
  });
});

describe('selective prediction', () => {
  test('risk–coverage and AURC by hand', () => {
    const { coverage, risk } = riskCoverage([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 0]);
    expect(Array.from(coverage)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(Array.from(risk)).toEqual([0, 0, 1 / 3, 1 / 4]);
    expect(aurc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 0])).toBeCloseTo(7 / 48, 12);
  });

  test('tied uncertainties give the expectation over their orders', () => {
    // Keeping 2 of {0 (loss 0), then a tie of losses 1 and 0}: risk 1/2 or 0, expected 1/4.
    const { risk } = riskCoverage([0.1, 0.5, 0.5], [0, 1, 0]);
    expect(Array.from(risk)).toEqual([0, 0.25, 1 / 3]);
    // Brute force: the mean AURC over both tie orders.
    const a = (0 + 0.5 + 1 / 3) / 3;
    const b = (0 + 0 + 1 / 3) / 3;
    expect(aurc([0.1, 0.5, 0.5], [0, 1, 0])).toBeCloseTo((a + b) / 2, 12);
  });

  test('accuracy–rejection rises when uncertainty finds the mistakes', () => {
    const probs = new Float32Array([0.9, 0.1, 0.6, 0.4, 0.55, 0.45, 0.2, 0.8]);
    const labels = [0, 0, 1, 1];
    const correct = correctness(probs, 2, labels);
    expect(Array.from(correct)).toEqual([1, 1, 0, 1]);
    const uncertainty = [0.1, 0.4, 0.45, 0.2];
    const curve = accuracyRejection(uncertainty, correct, [0, 0.25, 0.5]);
    expect(curve.accuracy).toEqual([0.75, 1, 1]);
    expect(() => accuracyRejection(uncertainty, correct, [1])).toThrow(/rejection rate 1: expected a number in \[0, 1\)/);
  });
});
