// push-ens: Bayesian deep learning with particles on TensorFlow.js.
// The typed Node API: the runtime (PushDist, Particle), networks (src/nn),
// data sets (src/data), the Bayesian layer (src/bayes) and uncertainty checks (src/uncertainty).
export { PushDist } from './runtime/coordinator';
export type { PushDistOptions, CreateParticleOptions, DeviceReport, WorkerEvent } from './runtime/coordinator';
export { Particle } from './runtime/particle';
export { WireTensor } from './runtime/wire';
export type { TensorData } from './runtime/wire';
export type { ParticleSnapshot, ParamsAndGrads, DeviceStats } from './runtime/worker-api';
export { parseDevice, parseDeviceList } from './runtime/devices';
export type { NatsOptions, NatsTlsOptions } from './runtime/nats/options';
export { WorkerHost } from './runtime/nats/host';
export type { WorkerHostOptions } from './runtime/nats/host';
export type { Device } from './runtime/devices';
export * as nn from './nn';
export * as data from './data';
export * as bayes from './bayes';
export * as uncertainty from './uncertainty';
export { train, trainDeepEnsemble, trainMultiSWAG, trainSVGD, trainMCDropout, Posterior, ALGORITHM_NAMES } from './bayes';
export { PushInputError, PushWorkerError, PushHandlerError, PushTimeoutError } from './util/errors';
export { NonFiniteTrainingError } from './bayes';
export { Rng, deriveSeed, particleSeed } from './util/rng';
export { tf, useBackend } from './util/tf';
