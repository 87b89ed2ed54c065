// The pure-maths part of push-ens's Bayesian layer: plain typed arrays, no tfjs,
// usable in the coordinator and in device workers.

export {
  METRIC_KEYS,
  DEFAULT_ECE_BINS,
  NLL_PROB_FLOOR,
  rmse,
  gaussianNll,
  accuracy,
  classificationNll,
  brier,
  ece,
  reliabilityBins,
  confidenceBin,
  eceFromConfidences,
  reliabilityBinsFromConfidences,
  argmaxRow,
  regressionMetrics,
  classificationMetrics,
  RegressionMetricsAccumulator,
  ClassificationMetricsAccumulator,
} from './metrics';
export type { MetricKey, RegressionMetrics, ClassificationMetrics, ClassLabels, ReliabilityBin } from './metrics';

export {
  REGRESSION_MODES,
  GAUSSIAN_REGRESSION_MODES,
  CLASSIFICATION_MODES,
  VARIANCE_FLOOR,
  softplusVariance,
  validModes,
  reducePredictions,
  PredictiveReducer,
  memberMetrics,
} from './predictive';
export type {
  PredictiveTask,
  RegressionMode,
  GaussianRegressionMode,
  ClassificationMode,
  PredictionMode,
  StackDims,
  ReducedPrediction,
  PredictiveOptions,
  MetricsFor,
  TargetsFor,
} from './predictive';

export { SwagMoments, DEFAULT_SWAG_RANK } from './algorithms/mswag/swag';
export type { SwagState, SwagSampleOptions } from './algorithms/mswag/swag';

export { svgdDirection, svgdLogPosteriorGrad, pairwiseSquaredDistances, medianBandwidth } from './algorithms/svgd/svgd';
export type { SvgdOptions, SvgdDirection, SvgdPosteriorOptions } from './algorithms/svgd/svgd';
