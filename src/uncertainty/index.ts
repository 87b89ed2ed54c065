// Public surface of the uncertainty layer: OOD metrics and selective prediction,
// calibration, conformal prediction and last-layer Laplace maths. Plain arrays
// in and out (no tfjs), so they run anywhere a BMA's predictions are.

export * from './ood';
export * from './calibration';
export * from './conformal';
export * from './laplace-math';
export { normalCdf, normalQuantile } from './normal';
export { symmetricEigen } from './symmetric-eigen';
