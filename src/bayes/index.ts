// Public API of push-ens's Bayesian layer: the four algorithms, the Posterior
// they return (predict, evaluate, save/load), data and option types, and the
// pure maths (metrics, the predictive reducer, SWAG moments, SVGD directions).
export { trainDeepEnsemble } from './algorithms/ensemble';
export { trainMultiSWAG } from './algorithms/mswag';
export { trainSVGD } from './algorithms/svgd';
export { trainMCDropout, withDropout } from './algorithms/mcdropout';
export { Posterior } from './posterior';
export type {
  PosteriorInfo,
  PredictOptions,
  EvaluateOptions,
  EvaluationResult,
  LoadOptions,
  Metrics,
  DataRecord,
  AlgorithmOptions,
} from './posterior';
export { ALGORITHM_NAMES, NAN_POLICIES } from './options';
export { NonFiniteTrainingError } from './faults';
export type { NanEvent } from './faults';
export type {
  AlgorithmName,
  CommonTrainOptions,
  EnsembleOptions,
  MultiSwagOptions,
  SvgdTrainOptions,
  McDropoutOptions,
  EpochReport,
  WorkerRestartReport,
  CheckpointOptions,
  ResolvedCommon,
  ResolvedEnsemble,
  ResolvedSwag,
  ResolvedSvgd,
  ResolvedMcDropout,
} from './options';
export { normalizeData, fitDataToModel, readInputs, readTargets } from './data';
export type { DataInput, ArrayInput, NestedNumbers, TensorLike, XYInput, ArrayData, TrainingData } from './data';
export { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION, CheckpointSaveError, readCheckpointDir } from './checkpoint-dir';
export type { TimingReport } from './cluster';
export type { TrainProgress } from './progress';
export * from './math-index';
