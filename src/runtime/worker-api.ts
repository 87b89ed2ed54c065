// The argument and result shapes of coordinator -> worker control messages.

export interface InitArgs {
  deviceIndex: number;
  device: string;
  backend: 'wasm' | 'cpu' | 'tensorflow';
  nativePackage?: string;
  /** file: or data: URLs of handler modules; later modules override earlier names. */
  handlers: string[];
  /** 0 means no limit. */
  cacheSize: number;
  model: unknown;
  /** Device-resident training; default: on the tensorflow backend only. */
  resident?: boolean;
}

/** Everything that makes up a particle, as host typed arrays: used for get, swaps and checkpoints. */
export interface ParticleSnapshot {
  params: Float32Array;
  grads: Float32Array;
  /** Optimizer slots by name (e.g. exp_avg, exp_avg_sq), each as long as params. */
  slots: Record<string, Float32Array>;
  /** Optimizer steps taken (for bias correction) and scheduler steps taken. */
  step: number;
  schedulerCount: number;
}

/** What p.get returns: copies of another particle's parameters and gradients. */
export interface ParamsAndGrads {
  params: Float32Array;
  grads: Float32Array;
}

export interface CreateArgs {
  pid: number;
  seed: number;
  optimizer?: Record<string, unknown>;
  scheduler?: Record<string, unknown>;
  state: Record<string, unknown>;
  snapshot?: ParticleSnapshot;
}

export interface DeviceStats {
  particles: number;
  /** Particles whose parameters are live tensors on the device now. */
  resident: number;
  swaps: number;
  /** Handler messages this worker ran. */
  handled: number;
  numTensors: number;
  /** Host bytes held per particle (parameters, gradients and optimizer slots). */
  bytesPerParticle: number;
  /** Device-resident training: whether on, and the uploads and read-backs of group state so far (absent on a dead device). */
  residentTraining?: { on: boolean; uploads: number; downloads: number };
  dead?: string;
}
