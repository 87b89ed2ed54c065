// Defaults of the options every algorithm takes, shared by the API and the CLI
// (a module of its own: the CLI reads it without loading TensorFlow.js).

/** batchSize: at most this, and at most the training set. */
export const COMMON_DEFAULTS = { epochs: 10, batchSize: 128, particles: 4, seed: 0, optimizer: { type: 'adam', lr: 0.01 } } as const;
