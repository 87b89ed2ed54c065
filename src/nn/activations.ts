// Elementwise activations and their derivatives, shared by the forward pass
// (network.ts) and the explicit backward pass (dense-backward.ts).
import { tf } from '../util/tf';
import { ActivationName } from './spec';

export function applyActivation(name: ActivationName, h: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'relu':
      return tf.relu(h);
    case 'tanh':
      return tf.tanh(h);
    case 'elu':
      return tf.elu(h);
    case 'sigmoid':
      return tf.sigmoid(h);
    case 'gelu': // exact GELU (PyTorch's default): 0.5 x (1 + erf(x / sqrt 2))
      return tf.mul(tf.mul(h, 0.5), tf.add(tf.erf(tf.mul(h, Math.SQRT1_2)), 1));
  }
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** d * activation'(pre), from the output where that is cheaper (as tfjs's own gradients do). */
export function activationGrad(name: ActivationName, d: tf.Tensor, output: tf.Tensor, pre?: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'relu':
      return tf.mul(d, tf.step(output));
    case 'sigmoid':
      return tf.mul(d, tf.mul(output, tf.sub(1, output)));
    case 'tanh':
      return tf.mul(d, tf.sub(1, tf.square(output)));
    case 'elu':
      if (tf.getKernel('EluGrad', tf.getBackend())) return tf.engine().runKernel('EluGrad', { dy: d, y: output }) as tf.Tensor;
      return tf.where(tf.greaterEqual(output, 0), d, tf.mul(d, tf.add(output, 1)));
    case 'gelu': {
      // gelu'(a) = Phi(a) + a * phi(a)
      if (!pre) throw new Error('the gelu derivative needs the pre-activation');
      const cdf = tf.mul(tf.add(tf.erf(tf.mul(pre, Math.SQRT1_2)), 1), 0.5);
      const pdf = tf.mul(tf.exp(tf.mul(tf.square(pre), -0.5)), INV_SQRT_2PI);
      return tf.mul(d, tf.add(cdf, tf.mul(pre, pdf)));
    }
  }
}
