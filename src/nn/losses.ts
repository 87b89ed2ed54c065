// Loss functions, each in three forms: a tf scalar for autodiff (`value`), the
// explicit dLoss/dOutput for the hand-written backward pass (`gradOutput`), and
// per-example losses for evaluation (`perExample`). The `*Of` forms take a
// prepared target and accept a leading particle axis ([P, B, k] outputs), so a
// stacked group gets per-particle losses and gradients in one pass.
//
// Normalisation follows PyTorch's default reduction='mean':
//   mse           mean over all B*k elements of (y - f)^2            (nn.MSELoss)
//   cross-entropy mean over B of -sum_c t_c log softmax(f)_c          (nn.CrossEntropyLoss)
//   bce           mean over all elements, from logits                 (nn.BCEWithLogitsLoss)
//   gaussian-nll  outputs [B, 2d] = [mean | raw variance]; var = softplus(raw) + 1e-6;
//                 mean over B*d of 0.5*(log var + (y - mu)^2 / var)   (nn.GaussianNLLLoss, full=False:
//                 the constant 0.5*log(2*pi) is left out, as in PyTorch)
import { tf } from '../util/tf';
import { PushInputError, describeValue } from '../util/errors';

import { LOSS_NAMES, LossName } from './loss-names';
export { LOSS_NAMES, LossName };

/** Added to softplus(raw) so the predicted variance of gaussian-nll never reaches 0. */
export const GAUSSIAN_MIN_VARIANCE = 1e-6;

export interface Loss {
  readonly name: LossName;
  /** Mean loss of pred [B, k] against raw targets y; a scalar. */
  value(pred: tf.Tensor, y: tf.Tensor): tf.Scalar;
  /** dLoss/dPred for pred [B, k]; same shape as pred. */
  gradOutput(pred: tf.Tensor, y: tf.Tensor): tf.Tensor;
  /** Loss of each example; shape [B]. */
  perExample(pred: tf.Tensor, y: tf.Tensor): tf.Tensor1D;
  /**
   * Raw targets as a float tensor [B, t] for a network output of width `outputSize`:
   * one-hot rows for cross-entropy labels, [B, k] for mse/bce, [B, k/2] for gaussian-nll.
   */
  prepareTarget(y: tf.Tensor, outputSize: number): tf.Tensor;
  /** Mean loss of pred [..., B, k] against a prepared target (broadcast over leading axes); shape [...]. */
  valueOf(pred: tf.Tensor, target: tf.Tensor): tf.Tensor;
  /** dLoss/dPred of `valueOf` for each leading index; shape of pred. */
  gradOf(pred: tf.Tensor, target: tf.Tensor): tf.Tensor;
  /** Loss of each example; shape [..., B]. */
  perExampleOf(pred: tf.Tensor, target: tf.Tensor): tf.Tensor;
}

type Core = Pick<Loss, 'name' | 'prepareTarget' | 'valueOf' | 'gradOf' | 'perExampleOf'>;

function makeLoss(core: Core): Loss {
  const outWidth = (pred: tf.Tensor) => pred.shape[pred.rank - 1];
  return {
    ...core,
    // tidy: label conversion makes intermediates (reshape, cast, oneHot) that callers never see.
    prepareTarget: (y, outputSize) => tf.tidy(() => core.prepareTarget(y, outputSize)),
    value: (pred, y) => tf.tidy(() => tf.reshape(core.valueOf(pred, core.prepareTarget(y, outWidth(pred))), [])) as tf.Scalar,
    gradOutput: (pred, y) => tf.tidy(() => core.gradOf(pred, core.prepareTarget(y, outWidth(pred)))),
    perExample: (pred, y) => tf.tidy(() => tf.reshape(core.perExampleOf(pred, core.prepareTarget(y, outWidth(pred))), [-1])) as tf.Tensor1D,
  };
}

/** Examples (B) and output width (k) of pred [..., B, k]. */
function batchAndWidth(pred: tf.Tensor): [number, number] {
  return [pred.shape[pred.rank - 2], pred.shape[pred.rank - 1]];
}

/** y as [B, width] when it holds exactly that many values per example. */
function asRows(y: tf.Tensor, width: number, loss: LossName): tf.Tensor {
  const batch = y.shape[0];
  if (y.rank === 0 || y.size !== batch * width) {
    throw new PushInputError(`${loss} target shape [${y.shape.join(', ')}]: expected [batch, ${width}] (or [batch] when the width is 1)`);
  }
  const rows = y.rank === 2 && y.shape[1] === width ? y : tf.reshape(y, [batch, width]);
  return rows.dtype === 'float32' ? rows : tf.cast(rows, 'float32');
}

const mse = makeLoss({
  name: 'mse',
  prepareTarget: (y, k) => asRows(y, k, 'mse'),
  valueOf: (pred, t) => tf.mean(tf.squaredDifference(pred, t), [-2, -1]),
  gradOf: (pred, t) => {
    const [b, k] = batchAndWidth(pred);
    return tf.mul(tf.sub(pred, t), 2 / (b * k));
  },
  perExampleOf: (pred, t) => tf.mean(tf.squaredDifference(pred, t), -1),
});

/**
 * log softmax over the last axis from plain ops. tf.logSoftmax is a customGrad op, which
 * tfjs's IS_TEST leak check (if a user turns it on) wrongly reports as leaking when taped.
 */
function logSoftmax(z: tf.Tensor): tf.Tensor {
  return tf.sub(z, tf.logSumExp(z, -1, true));
}

const crossEntropy = makeLoss({
  name: 'cross-entropy',
  prepareTarget: (y, classes) => {
    if (classes < 2) throw new PushInputError(`cross-entropy needs a network output of at least 2 logits, got ${classes}`);
    const batch = y.shape[0];
    if (y.rank === 2 && y.shape[1] === classes) return y.dtype === 'float32' ? y : tf.cast(y, 'float32');
    if (y.rank === 1 || (y.rank === 2 && y.shape[1] === 1)) {
      const labels = tf.cast(tf.reshape(y, [batch]), 'int32');
      return tf.cast(tf.oneHot(labels, classes), 'float32');
    }
    throw new PushInputError(`cross-entropy target shape [${y.shape.join(', ')}]: expected labels [batch] or [batch, 1], or one-hot [batch, ${classes}]`);
  },
  valueOf: (pred, t) => tf.mean(tf.neg(tf.sum(tf.mul(t, logSoftmax(pred)), -1)), -1),
  gradOf: (pred, t) => {
    const [b] = batchAndWidth(pred);
    // d/df of -sum t log softmax(f) = softmax(f) * sum(t) - t (sum(t) = 1 for labels).
    return tf.div(tf.sub(tf.mul(tf.softmax(pred), tf.sum(t, -1, true)), t), b);
  },
  perExampleOf: (pred, t) => tf.neg(tf.sum(tf.mul(t, logSoftmax(pred)), -1)),
});

/** Elementwise stable BCE-with-logits: max(f,0) - f*t + log(1 + exp(-|f|)). */
function bceElements(pred: tf.Tensor, t: tf.Tensor): tf.Tensor {
  return tf.add(tf.sub(tf.relu(pred), tf.mul(pred, t)), tf.log1p(tf.exp(tf.neg(tf.abs(pred)))));
}

const bce = makeLoss({
  name: 'bce',
  prepareTarget: (y, k) => asRows(y, k, 'bce'),
  valueOf: (pred, t) => tf.mean(bceElements(pred, t), [-2, -1]),
  gradOf: (pred, t) => {
    const [b, k] = batchAndWidth(pred);
    return tf.div(tf.sub(tf.sigmoid(pred), t), b * k);
  },
  perExampleOf: (pred, t) => tf.mean(bceElements(pred, t), -1),
});

/** Splits a gaussian-nll network output [..., 2d] into its mean and variance (softplus(raw) + 1e-6). */
export function gaussianOutput(pred: tf.Tensor): { mean: tf.Tensor; variance: tf.Tensor } {
  const [mean, raw] = tf.split(pred, 2, -1);
  return { mean, variance: tf.add(tf.softplus(raw), GAUSSIAN_MIN_VARIANCE) };
}

/** Elementwise 0.5*(log var + (y - mu)^2 / var): the Gaussian NLL without its 0.5*log(2*pi) constant. */
export function gaussianNllElements(mean: tf.Tensor, variance: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.mul(tf.add(tf.log(variance), tf.div(tf.squaredDifference(y, mean), variance)), 0.5);
}

/** Mean Gaussian NLL over all elements, same convention as the gaussian-nll loss. */
export function gaussianNll(mean: tf.Tensor, variance: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(gaussianNllElements(mean, variance, y)) as tf.Scalar);
}

function checkGaussianWidth(k: number): number {
  if (k % 2 !== 0) throw new PushInputError(`gaussian-nll needs an even network output width [mean | raw variance], got ${k}`);
  return k / 2;
}

const gaussianNllLoss = makeLoss({
  name: 'gaussian-nll',
  prepareTarget: (y, k) => asRows(y, checkGaussianWidth(k), 'gaussian-nll'),
  valueOf: (pred, t) => {
    const { mean, variance } = gaussianOutput(pred);
    return tf.mean(gaussianNllElements(mean, variance, t), [-2, -1]);
  },
  gradOf: (pred, t) => {
    const [b, k] = batchAndWidth(pred);
    const n = b * (k / 2);
    const [mean, raw] = tf.split(pred, 2, -1);
    const variance = tf.add(tf.softplus(raw), GAUSSIAN_MIN_VARIANCE);
    const residual = tf.sub(mean, t);
    const dMean = tf.div(residual, tf.mul(variance, n));
    // dL/dvar = 0.5 (1/var - r^2/var^2); dvar/draw = sigmoid(raw).
    const dVar = tf.mul(tf.div(tf.sub(1, tf.div(tf.square(residual), variance)), variance), 0.5 / n);
    return tf.concat([dMean, tf.mul(dVar, tf.sigmoid(raw))], -1);
  },
  perExampleOf: (pred, t) => {
    const { mean, variance } = gaussianOutput(pred);
    return tf.mean(gaussianNllElements(mean, variance, t), -1);
  },
});

const LOSSES: Record<LossName, Loss> = { mse, 'cross-entropy': crossEntropy, bce, 'gaussian-nll': gaussianNllLoss };

/** The loss called `name` (a Loss object passes through). */
export function parseLoss(name: LossName | string | Loss): Loss {
  if (typeof name === 'object' && name !== null && typeof (name as Loss).gradOf === 'function') return name as Loss;
  if (typeof name === 'string' && Object.prototype.hasOwnProperty.call(LOSSES, name)) return LOSSES[name as LossName];
  throw new PushInputError(`unknown loss ${describeValue(name)}: expected one of ${LOSS_NAMES.join(', ')}`);
}
