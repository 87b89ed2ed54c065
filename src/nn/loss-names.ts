// The loss names, without TensorFlow.js: option parsing on the coordinator's thread needs only these.
export type LossName = 'mse' | 'cross-entropy' | 'bce' | 'gaussian-nll';
export const LOSS_NAMES: readonly LossName[] = ['mse', 'cross-entropy', 'bce', 'gaussian-nll'];
