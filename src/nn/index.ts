// Public API of push-ens's neural-network layer: model specs, compiled networks,
// losses, gradients, host-side fused optimizers, LR schedules and particle groups.
export * from './spec';
export { compileModel } from './compile';
export {
  Network,
  ParamEntry,
  ForwardOptions,
  PlanStep,
  FusedActivation,
} from './network';
export { specFromLayersModel, flattenLayersModelWeights, topologyOf } from './layers-model';
export * from './losses';
export { lossAndGrad, lossAndGradPrepared, GradientMethod, LossAndGradOptions } from './gradients';
export * from './optimizers';
export * from './schedulers';
export * from './group';
export { dropoutMask } from './dropout';
