// Public API of push-ens's Bayesian layer: train(name) and the named trainers, the registry of
// algorithms, the Posterior they return (predict, evaluate, save/load), data and option types, and the
// pure maths (metrics, the predictive reducer, SWAG moments, SVGD directions).
export { train, trainDeepEnsemble, trainMultiSWAG, trainSVGD, trainMCDropout } from './train';
export type { EnsembleOptions, MultiSWAGOptions, MultiSwagOptions, SvgdTrainOptions, McDropoutOptions, SgldOptions, CyclicalOptions } from './train';
export { withDropout } from './algorithms/mcdropout';
export { ALGORITHMS, ALGORITHM_NAMES, algorithmNamed } from './algorithms/registry';
export type { Algorithm, AlgorithmDriver, RunContext, PredictionPlan, StateCodec } from './algorithms/types';
export type { OptionSpec } from './algorithms/schema';
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
export { NAN_POLICIES } from './options';
export { NonFiniteTrainingError } from './faults';
export type { NanEvent } from './faults';
export type { AlgorithmName, ResolvedCommon } from './options';
export type { CommonTrainOptions, EpochReport, WorkerRestartReport, CheckpointOptions } from './train-options';
export type { ResolvedEnsemble } from './algorithms/ensemble';
export type { ResolvedSwag } from './algorithms/mswag';
export type { ResolvedSvgd } from './algorithms/svgd';
export type { ResolvedMcDropout } from './algorithms/mcdropout';
export { normalizeData, fitDataToModel, readInputs, readTargets } from './data';
export type { DataInput, ArrayInput, NestedNumbers, TensorLike, XYInput, ArrayData, TrainingData } from './data';
export { CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_VERSION, CheckpointSaveError, readCheckpointDir } from './checkpoint-dir';
export type { TimingReport } from './cluster';
export type { TrainProgress } from './progress';
export * from './math-index';
