// Out-of-distribution detection and selective prediction from uncertainty
// scores, on plain arrays (no tfjs).
//
// Conventions:
// - A score is an UNCERTAINTY: higher means "more likely out of distribution".
//   Classification max_prob is scored as 1 − max_c p̄_c for that reason.
// - AUROC is P(s_out > s_in) + ½ P(s_out = s_in) (Mann–Whitney with ties counted
//   half), the same whichever side is called positive.
// - AUPR-Out: OOD examples positive, ranked by s. AUPR-In: in-distribution
//   examples positive, ranked by −s. Both are average precision (sklearn's
//   average_precision_score): Σ_k (R_k − R_{k−1}) P_k over distinct thresholds,
//   tied scores entering together.
// - FPR@95%TPR: in-distribution positive (Liang et al. 2018, Liu et al. 2020):
//   the threshold t is the smallest score value that accepts (s ≤ t) at least
//   95% of in-distribution examples; the result is the fraction of OOD examples
//   also accepted (s ≤ t, ties accepted).

import { PushInputError, describeValue } from '../util/errors';

export interface OodMetrics {
  auroc: number;
  /** Average precision with in-distribution examples as positives (score −s). */
  auprIn: number;
  /** Average precision with OOD examples as positives (score s). */
  auprOut: number;
  /** Fraction of OOD examples accepted at the threshold accepting 95% of in-distribution ones. */
  fpr95: number;
}

export const CLASSIFICATION_OOD_SCORES = ['max_prob', 'entropy', 'mutual_info'] as const;
export const REGRESSION_OOD_SCORES = ['std_total', 'std_epistemic'] as const;
export type OodScoreName = (typeof CLASSIFICATION_OOD_SCORES)[number] | (typeof REGRESSION_OOD_SCORES)[number];

/** A reduced prediction as PredictiveReducer.result() gives it. */
export interface Reduced {
  data: Float32Array;
  shape: number[];
}

type Scores = ArrayLike<number>;

function checkScores(name: string, s: Scores): void {
  if (s.length === 0) throw new PushInputError(`${name} is empty: expected at least one score`);
  for (let i = 0; i < s.length; i++) {
    if (Number.isNaN(s[i])) throw new PushInputError(`${name}[${i}] is NaN: expected a number`);
  }
}

/** Comparator that also orders ±Infinity (a − b would give NaN for two infinities). */
function ascending(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** All scores sorted ascending, with a flag telling OOD ones apart. */
function pooled(scoresIn: Scores, scoresOut: Scores): { value: Float64Array; out: Uint8Array } {
  checkScores('scoresIn', scoresIn);
  checkScores('scoresOut', scoresOut);
  const n = scoresIn.length + scoresOut.length;
  const value = new Float64Array(n);
  const isOut = new Uint8Array(n);
  for (let i = 0; i < scoresIn.length; i++) value[i] = scoresIn[i];
  for (let j = 0; j < scoresOut.length; j++) {
    value[scoresIn.length + j] = scoresOut[j];
    isOut[scoresIn.length + j] = 1;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => ascending(value[a], value[b]));
  return { value: Float64Array.from(order, (i) => value[i]), out: Uint8Array.from(order, (i) => isOut[i]) };
}

/** Groups of equal scores in a sorted array: [start, end) pairs with their in/out counts. */
function tieGroups(sorted: { value: Float64Array; out: Uint8Array }): Array<{ nIn: number; nOut: number; value: number }> {
  const groups: Array<{ nIn: number; nOut: number; value: number }> = [];
  for (let i = 0; i < sorted.value.length; ) {
    let j = i;
    let nOut = 0;
    while (j < sorted.value.length && sorted.value[j] === sorted.value[i]) nOut += sorted.out[j++];
    groups.push({ nIn: j - i - nOut, nOut, value: sorted.value[i] });
    i = j;
  }
  return groups;
}

/** Area under the ROC curve; see the conventions at the top. */
export function auroc(scoresIn: Scores, scoresOut: Scores): number {
  let inBelow = 0;
  let sum = 0;
  for (const g of tieGroups(pooled(scoresIn, scoresOut))) {
    sum += g.nOut * (inBelow + 0.5 * g.nIn);
    inBelow += g.nIn;
  }
  return sum / (scoresIn.length * scoresOut.length);
}

/** Average precision of `positives` against `negatives`, higher score = positive, tied scores entering together. */
export function averagePrecision(positives: Scores, negatives: Scores): number {
  // pooled() sorts ascending with positives flagged as "out"; walk it from the top.
  const groups = tieGroups(pooled(negatives, positives));
  const nPos = positives.length;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  for (let k = groups.length - 1; k >= 0; k--) {
    const g = groups[k];
    tp += g.nOut;
    fp += g.nIn;
    if (g.nOut > 0) ap += (g.nOut / nPos) * (tp / (tp + fp));
  }
  return ap;
}

/** FPR at 95% TPR (or `tpr`) with in-distribution examples positive; see the conventions at the top. */
export function fprAtTpr(scoresIn: Scores, scoresOut: Scores, tpr = 0.95): number {
  if (!(tpr > 0 && tpr <= 1)) throw new PushInputError(`tpr = ${describeValue(tpr)}: expected a number in (0, 1]`);
  // Smallest count of in-distribution examples that reaches the rate (guarding 0.95 * 20 = 19.000000000000004).
  const needed = Math.ceil(tpr * scoresIn.length - 1e-9);
  let acceptedIn = 0;
  let acceptedOut = 0;
  for (const g of tieGroups(pooled(scoresIn, scoresOut))) {
    acceptedIn += g.nIn;
    acceptedOut += g.nOut;
    if (acceptedIn >= needed) break;
  }
  return acceptedOut / scoresOut.length;
}

function negate(s: Scores): Float64Array {
  return Float64Array.from({ length: s.length }, (_, i) => -s[i]);
}

export function oodMetrics(scoresIn: Scores, scoresOut: Scores): OodMetrics {
  return {
    auroc: auroc(scoresIn, scoresOut),
    auprIn: averagePrecision(negate(scoresIn), negate(scoresOut)),
    auprOut: averagePrecision(scoresOut, scoresIn),
    fpr95: fprAtTpr(scoresIn, scoresOut, 0.95),
  };
}

/** ROC curve flagging s ≥ t as OOD, over every distinct threshold from +∞ down: starts at (0, 0), ends at (1, 1). */
export function rocCurve(scoresIn: Scores, scoresOut: Scores): { fpr: Float64Array; tpr: Float64Array; threshold: Float64Array } {
  const groups = tieGroups(pooled(scoresIn, scoresOut));
  const fpr = new Float64Array(groups.length + 1);
  const tpr = new Float64Array(groups.length + 1);
  const threshold = new Float64Array(groups.length + 1);
  threshold[0] = Infinity;
  let flaggedIn = 0;
  let flaggedOut = 0;
  for (let k = groups.length - 1, at = 1; k >= 0; k--, at++) {
    flaggedIn += groups[k].nIn;
    flaggedOut += groups[k].nOut;
    fpr[at] = flaggedIn / scoresIn.length;
    tpr[at] = flaggedOut / scoresOut.length;
    threshold[at] = groups[k].value;
  }
  return { fpr, tpr, threshold };
}

// ---------------------------------------------------------------------------
// Scores from a posterior predictive.

/** The prediction modes (PredictiveReducer) the OOD scores of a task are computed from. */
export function oodScoreModes(task: 'regression' | 'classification', gaussian = false): string[] {
  if (task === 'classification') return ['mean_prob', 'mutual_info'];
  return gaussian ? ['variance', 'epistemic_var'] : ['std'];
}

function need(result: Record<string, Reduced>, mode: string): Reduced {
  const r = result[mode];
  if (r === undefined) throw new PushInputError(`prediction has no "${mode}": expected the modes ${JSON.stringify(Object.keys(result))} to include it (see oodScoreModes)`);
  return r;
}

/**
 * Per-example uncertainty scores (higher = more uncertain) from reduced predictions:
 * - classification: max_prob = 1 − max_c p̄_c, entropy = H[p̄] (nats), mutual_info = H[p̄] − mean_s H[p_s];
 * - gaussian regression: std_total = sqrt(mean_j variance_j), std_epistemic = sqrt(mean_j epistemic_var_j)
 *   (the root mean over the d outputs; for d = 1, the std);
 * - plain regression (members have no variance head): both are the spread of member means, the only
 *   uncertainty such a model has (root mean over outputs of the `std` mode).
 */
export function oodScores(
  task: 'regression' | 'classification',
  result: Record<string, Reduced>,
  gaussian = false,
): Partial<Record<OodScoreName, Float64Array>> {
  if (task === 'classification') {
    const p = need(result, 'mean_prob');
    const [N, C] = p.shape;
    const maxProb = new Float64Array(N);
    const entropy = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      let max = 0;
      let h = 0;
      for (let c = 0; c < C; c++) {
        const v = p.data[n * C + c];
        if (v > max) max = v;
        if (v > 0) h -= v * Math.log(v);
      }
      maxProb[n] = 1 - max;
      entropy[n] = h;
    }
    return { max_prob: maxProb, entropy, mutual_info: Float64Array.from(need(result, 'mutual_info').data) };
  }
  const rootMean = (r: Reduced, squared: boolean): Float64Array => {
    const [N, d] = [r.shape[0], r.shape[1] ?? 1];
    const out = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += squared ? r.data[n * d + j] ** 2 : r.data[n * d + j];
      out[n] = Math.sqrt(s / d);
    }
    return out;
  };
  if (gaussian) return { std_total: rootMean(need(result, 'variance'), false), std_epistemic: rootMean(need(result, 'epistemic_var'), false) };
  const spread = rootMean(need(result, 'std'), true);
  return { std_total: spread, std_epistemic: Float64Array.from(spread) };
}

/** OOD metrics of each score: in-distribution scores against OOD scores. */
export function evaluateOodScores(
  scoresIn: Partial<Record<OodScoreName, ArrayLike<number>>>,
  scoresOut: Partial<Record<OodScoreName, ArrayLike<number>>>,
): Partial<Record<OodScoreName, OodMetrics>> {
  const out: Partial<Record<OodScoreName, OodMetrics>> = {};
  for (const name of Object.keys(scoresIn) as OodScoreName[]) {
    const o = scoresOut[name];
    if (o === undefined) throw new PushInputError(`OOD scores lack "${name}": expected the same scores for both sets`);
    out[name] = oodMetrics(scoresIn[name]!, o);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Selective prediction: answer only the k most certain examples.

/** 1 where the arg-max of probs [N, C] (ties to the smallest index) is the label, else 0. */
export function correctness(probs: Float32Array, C: number, labels: ArrayLike<number>): Uint8Array {
  const n = labels.length;
  if (probs.length !== n * C) throw new PushInputError(`probs has length ${probs.length}: expected ${n * C} ([N = ${n}, C = ${C}])`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (probs[i * C + c] > probs[i * C + best]) best = c;
    out[i] = best === labels[i] ? 1 : 0;
  }
  return out;
}

/**
 * Risk–coverage curve (Geifman & El-Yaniv 2017): keep the k most certain examples
 * (lowest uncertainty), k = 1..N; risk(k) = mean loss of those kept (loss 1 − correct
 * gives the error rate). Examples of equal uncertainty are kept in an unspecified
 * order, so the value is the expectation over their orders: a tie group partly kept
 * contributes its mean loss per kept example.
 */
export function riskCoverage(uncertainty: Scores, loss: Scores): { coverage: Float64Array; risk: Float64Array } {
  checkScores('uncertainty', uncertainty);
  const n = uncertainty.length;
  if (loss.length !== n) throw new PushInputError(`loss has length ${loss.length}: expected ${n}, one per example`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => ascending(uncertainty[a], uncertainty[b]));
  const coverage = new Float64Array(n);
  const risk = new Float64Array(n);
  let before = 0; // loss of whole groups kept
  for (let i = 0; i < n; ) {
    let j = i;
    let groupLoss = 0;
    while (j < n && uncertainty[order[j]] === uncertainty[order[i]]) groupLoss += loss[order[j++]];
    const mean = groupLoss / (j - i);
    for (let k = i + 1; k <= j; k++) {
      coverage[k - 1] = k / n;
      risk[k - 1] = (before + (k - i) * mean) / k;
    }
    before += groupLoss;
    i = j;
  }
  return { coverage, risk };
}

/** Area under the risk–coverage curve: mean over k = 1..N of risk(k). Lower is better. */
export function aurc(uncertainty: Scores, loss: Scores): number {
  const { risk } = riskCoverage(uncertainty, loss);
  let s = 0;
  for (const r of risk) s += r;
  return s / risk.length;
}

export const DEFAULT_REJECTION_RATES = Array.from({ length: 20 }, (_, i) => i / 20);

/**
 * Accuracy–rejection curve: for each rejection rate r, the accuracy on the
 * max(1, round((1 − r)·N)) most certain examples (ties as in riskCoverage).
 */
export function accuracyRejection(
  uncertainty: Scores,
  correct: Scores,
  rates: readonly number[] = DEFAULT_REJECTION_RATES,
): { rejection: number[]; accuracy: number[] } {
  const loss = Float64Array.from({ length: correct.length }, (_, i) => 1 - correct[i]);
  const { risk } = riskCoverage(uncertainty, loss);
  const n = risk.length;
  const accuracy = rates.map((r) => {
    if (!(r >= 0 && r < 1)) throw new PushInputError(`rejection rate ${describeValue(r)}: expected a number in [0, 1)`);
    return 1 - risk[Math.max(1, Math.round((1 - r) * n)) - 1];
  });
  return { rejection: [...rates], accuracy };
}
