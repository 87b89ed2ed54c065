// Losses of a small output [B, k] computed on the host from a view of the
// backend's memory, value and dLoss/dOutput in one pass: the loss's tfjs ops
// cost 4-10 kernels (0.1-0.4 ms per particle-step on wasm) for a few thousand
// numbers. Same definitions as losses.ts (PyTorch's reduction='mean').

/** MSE of pred against target (same length) and its gradient into grad, as losses.ts's mse computes them in float32. */
export function mseOnHost(pred: Float32Array, target: Float32Array, grad: Float32Array): number {
  const n = pred.length;
  const scale = Math.fround(2 / n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const diff = Math.fround(pred[i] - target[i]);
    sum += diff * diff;
    grad[i] = diff * scale;
  }
  return Math.fround(sum / n);
}

/**
 * Cross-entropy of logits pred [B, k] against a prepared target [B, k] (one-hot rows, or any
 * rows of weights), and its gradient into grad: as losses.ts's cross-entropy,
 * mean over B of -sum_c t_c log softmax(f)_c, gradient (softmax(f) * sum(t) - t) / B.
 * Computed in float64 and rounded once: equal to the tfjs ops' float32 result to rounding.
 */
export function crossEntropyOnHost(pred: Float32Array, target: Float32Array, k: number, grad: Float32Array): number {
  const rows = pred.length / k;
  let total = 0;
  for (let b = 0; b < rows; b++) {
    const o = b * k;
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, pred[o + c]);
    if (!Number.isFinite(max)) max = 0; // all -Infinity (or NaN): let the NaN/Infinity show
    let sumExp = 0;
    let sumT = 0;
    for (let c = 0; c < k; c++) {
      sumExp += Math.exp(pred[o + c] - max);
      sumT += target[o + c];
    }
    const lse = max + Math.log(sumExp);
    let row = 0;
    for (let c = 0; c < k; c++) {
      const t = target[o + c];
      if (t !== 0) row -= t * (pred[o + c] - lse);
      grad[o + c] = ((Math.exp(pred[o + c] - lse) * sumT - t) / rows);
    }
    total += row;
  }
  return Math.fround(total / rows);
}
