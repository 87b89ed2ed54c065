// The API's bad-input corpus: each case calls the typed Node API with one bad
// input and must fail with a typed error whose message is one line naming the
// bad value and what was expected (api-bad-input.test.ts also checks that the
// work directory, where every path points, is unchanged). Together with the
// CLI's corpus (test/cli/bad-input-cases.ts) this covers the list.
import * as path from 'node:path';
import { PushDist } from '../../src/runtime/coordinator';
import { PushHandlerError, PushInputError, PushTimeoutError } from '../../src/util/errors';
import { Posterior, trainDeepEnsemble, trainMultiSWAG, trainSVGD } from '../../src/bayes';
import type { CommonTrainOptions } from '../../src/bayes';
import { regressionData } from '../bayes/helpers';
import { circular, nest } from '../runtime/sendable-values';

export const MODEL = {
  format: 'push-ens/sequential',
  inputShape: [3],
  layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 1 }],
};
export const DATA = regressionData(32, 1);

/** What the cases act on (set up once by the test). */
export interface ApiContext {
  /** A live PushDist on cpu:0 with the handler fixtures and one particle (pid 0). */
  dist: PushDist;
  /** A trained 2-particle regression ensemble (3 inputs). */
  posterior: Posterior;
  /** Work directory: `ckpt` (the posterior's checkpoint), damaged copies of it, `plain.txt` and `notes/`. */
  work: string;
}

export interface ApiBadInputCase {
  name: string;
  call: (c: ApiContext) => unknown;
  error: new (...args: never[]) => Error;
  message: RegExp;
}

const base: CommonTrainOptions = { model: MODEL, data: DATA, epochs: 1, particles: 2, batchSize: 8 };
const w = (c: ApiContext, ...parts: string[]) => path.join(c.work, ...parts);

export const API_BAD_INPUT_CASES: ApiBadInputCase[] = [
  // ------------------------------------------------------------- PushDist.create
  { name: 'create: malformed device', call: () => PushDist.create({ devices: 'gpu0', model: MODEL }), error: PushInputError, message: /bad device "gpu0": expected "cpu:N" or "cuda:N"/ },
  { name: 'create: duplicate device', call: () => PushDist.create({ devices: 'cpu:0,cpu:0', model: MODEL }), error: PushInputError, message: /duplicate device "cpu:0" in device list/ },
  { name: 'create: empty device list', call: () => PushDist.create({ devices: ' , ', model: MODEL }), error: PushInputError, message: /bad device|empty device list/ },
  { name: 'create: zero cache size', call: () => PushDist.create({ model: MODEL, cacheSize: 0 }), error: PushInputError, message: /bad cacheSize 0: expected a whole number >= 1/ },
  { name: 'create: negative timeout', call: () => PushDist.create({ model: MODEL, timeoutMs: -5 }), error: PushInputError, message: /bad timeoutMs -5: expected a positive number of milliseconds/ },
  { name: 'create: no model', call: () => PushDist.create({ model: undefined }), error: PushInputError, message: /needs a model spec/ },
  { name: 'create: unknown isolation', call: () => PushDist.create({ model: MODEL, isolation: 'container' }), error: PushInputError, message: /bad isolation "container": expected "thread" or "process"/ },
  { name: 'create: unknown backend', call: () => PushDist.create({ model: MODEL, backend: 'metal' }), error: PushInputError, message: /"metal"/ },
  { name: 'create: unknown model format', call: () => PushDist.create({ model: { format: 'keras-h5' } }), error: PushInputError, message: /model spec format "keras-h5": expected "push-ens\/sequential" or "tfjs-layers"/ },

  // ------------------------------------------------------------- particles and messages
  { name: 'createParticle: device not in the run', call: (c) => c.dist.createParticle({ device: 'cpu:7' }), error: PushInputError, message: /device "cpu:7" is not one of this run's devices: cpu:0/ },
  { name: 'createParticle: negative seed', call: (c) => c.dist.createParticle({ seed: -1 }), error: PushInputError, message: /bad seed -1: expected a whole number >= 0/ },
  { name: 'launch: unknown particle', call: (c) => c.dist.launch(99, 'echo'), error: PushInputError, message: /unknown particle id 99: known pids are 0\.\.\d+/ },
  { name: 'launch: fractional particle id', call: (c) => c.dist.launch(0.5, 'echo'), error: PushInputError, message: /unknown particle id 0\.5/ },
  { name: 'launch: unknown message', call: (c) => c.dist.launch(0, 'noSuchHandler'), error: PushHandlerError, message: /unknown message "noSuchHandler": the handler modules export .*echo/ },
  { name: 'launch: a handler that never answers', call: (c) => c.dist.launchWithTimeout(0, 'hang', 100), error: PushTimeoutError, message: /message "hang" to particle 0 on cpu:0 got no answer within 100 ms/ },
  { name: 'launch: a function argument', call: (c) => c.dist.launch(0, 'echo', 1, { opts: { callback: () => 1 } }), error: PushInputError, message: /launch\("echo"\) argument 2 at \.opts\.callback: a function cannot be sent in a message \(supported: / },
  { name: 'launch: a symbol argument', call: (c) => c.dist.launch(0, 'echo', Symbol('s')), error: PushInputError, message: /launch\("echo"\) argument 1: a symbol cannot be sent/ },
  { name: 'launch: a circular argument', call: (c) => c.dist.launch(0, 'echo', circular()), error: PushInputError, message: /argument 1 at \.a\[1\]\.back: circular reference/ },
  { name: 'launch: a too deeply nested argument', call: (c) => c.dist.launch(0, 'echo', nest(100_000)), error: PushInputError, message: /argument 1 at \.n\.n.*: nesting deeper than 64 levels/ },
  { name: 'launch: a BigInt beyond 64 bits', call: (c) => c.dist.launch(0, 'echo', 2n ** 80n), error: PushInputError, message: /the BigInt 1208925819614629174706176n is outside the range a message carries exactly \(-2\^63 to 2\^64 - 1\)/ },
  { name: 'launch: an Error argument', call: (c) => c.dist.launch(0, 'echo', new Error('x')), error: PushInputError, message: /argument 1: an Error cannot be sent/ },
  { name: 'launch: a class instance argument', call: (c) => c.dist.launch(0, 'echo', { at: new URL('file:///x') }), error: PushInputError, message: /argument 1 at \.at: an instance of class URL cannot be sent/ },
  { name: 'launch: a sparse array argument', call: (c) => c.dist.launchWithTimeout(0, 'echo', 100, [1, , 3]), error: PushInputError, message: /argument 1 at \[1\]: a hole in a sparse array cannot be sent/ },
  { name: 'launch: a handler that returns a function', call: (c) => c.dist.launch(0, 'returnFunction'), error: PushHandlerError, message: /handler "returnFunction" failed on particle 0 \(cpu:0\): the result of "returnFunction" at \.cb: a function cannot be sent/ },
  ...['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf'].map(
    (name): ApiBadInputCase => ({ name: `launch: Object.prototype's ${name}`, call: (c) => c.dist.launch(0, name), error: PushHandlerError, message: new RegExp(`unknown message "${name}": the handler modules export .*echo`) }),
  ),
  { name: 'createParticle: a function in the state', call: (c) => c.dist.createParticle({ state: { onStep: () => 1 } }), error: PushInputError, message: /createParticle options at \.state\.onStep: a function cannot be sent/ },
  { name: 'setSnapshot: slots that are not typed arrays', call: (c) => c.dist.setSnapshot(0, { slots: { m: new Map([['x', Symbol('s')]]) } as never }), error: PushInputError, message: /setSnapshot at \.slots\.m\.get\("x"\): a symbol cannot be sent/ },
  { name: 'setSnapshot: wrong number of parameters', call: (c) => c.dist.setSnapshot(0, { params: new Float32Array(3) }), error: PushInputError, message: /particle 0: 3 parameter values given, the model has 41 parameters/ },
  { name: 'restartDevice: a live device', call: (c) => c.dist.restartDevice('cpu:0'), error: PushInputError, message: /device cpu:0 is alive: only a dead device can be restarted/ },
  { name: 'restartDevice: unknown device', call: (c) => c.dist.restartDevice('cuda:3'), error: PushInputError, message: /device "cuda:3" is not one of this run's devices/ },

  // ------------------------------------------------------------- training options
  { name: 'train: unknown loss', call: () => trainDeepEnsemble({ ...base, loss: 'hinge' as never }), error: PushInputError, message: /loss "hinge": expected one of/ },
  { name: 'train: negative epochs', call: () => trainDeepEnsemble({ ...base, epochs: -1 }), error: PushInputError, message: /epochs -1: expected a whole number >= 0/ },
  { name: 'train: zero particles', call: () => trainDeepEnsemble({ ...base, particles: 0 }), error: PushInputError, message: /particles 0: expected a whole number >= 1/ },
  { name: 'train: batch larger than the data', call: () => trainDeepEnsemble({ ...base, batchSize: 100 }), error: PushInputError, message: /batchSize 100: expected at most 32/ },
  { name: 'train: unknown optimizer', call: () => trainDeepEnsemble({ ...base, optimizer: { type: 'adagrad' } as never }), error: PushInputError, message: /unknown optimizer "adagrad": expected one of/ },
  { name: 'train: unknown scheduler', call: () => trainDeepEnsemble({ ...base, scheduler: { type: 'warmup' } as never }), error: PushInputError, message: /unknown scheduler "warmup"/ },
  { name: 'train: unknown onNan policy', call: () => trainDeepEnsemble({ ...base, onNan: 'ignore' as never }), error: PushInputError, message: /onNan "ignore": expected one of stop, skip, reinit/ },
  { name: 'train: zero timeout', call: () => trainDeepEnsemble({ ...base, timeoutMs: 0 }), error: PushInputError, message: /timeoutMs 0: expected a positive number of milliseconds/ },
  { name: 'train: negative restartWorkers', call: () => trainDeepEnsemble({ ...base, restartWorkers: -1 }), error: PushInputError, message: /restartWorkers -1: expected a whole number >= 0/ },
  { name: 'train: svgd with onNan skip', call: () => trainSVGD({ ...base, onNan: 'skip' }), error: PushInputError, message: /onNan "skip": svgd supports only "stop"/ },
  { name: 'train: more SWAG epochs than epochs', call: () => trainMultiSWAG({ ...base, epochs: 3, swagEpochs: 5 }), error: PushInputError, message: /cannot have 5 SWAG epochs/ },

  // ------------------------------------------------------------- training data
  { name: 'data: model and data shapes differ', call: () => trainDeepEnsemble({ ...base, data: regressionDataWithFeatures(4) }), error: PushInputError, message: /x has rows of shape \[4\] \(4 values\) but the model takes inputs of shape \[3\]/ },
  { name: 'data: NaN in inputs', call: () => trainDeepEnsemble({ ...base, data: { x: [[1, 2, NaN], [1, 2, 3]], y: [1, 2] }, batchSize: 2 }), error: PushInputError, message: /row 0, column 2 is NaN, expected a finite number/ },
  { name: 'data: ragged rows', call: () => trainDeepEnsemble({ ...base, data: { x: [[1, 2, 3], [1, 2]], y: [1, 2] } }), error: PushInputError, message: /data\.x\[1\] has 2 entries: expected 3/ },
  { name: 'data: no examples', call: () => trainDeepEnsemble({ ...base, data: { x: new Float32Array(0), xShape: [0, 3], y: new Float32Array(0), yShape: [0, 1] } }), error: PushInputError, message: /the training data has no examples: expected at least 1/ },
  { name: 'data: more inputs than targets', call: () => trainDeepEnsemble({ ...base, data: { x: DATA.x, xShape: DATA.xShape, y: DATA.y.subarray(0, 30), yShape: [30, 1] } }), error: PushInputError, message: /32 inputs but 30 targets/ },
  {
    name: 'data: label out of range',
    call: () => trainDeepEnsemble({ ...base, model: { ...MODEL, layers: [{ type: 'dense', units: 2 }] }, loss: 'cross-entropy', data: { x: [[0, 0, 0], [1, 1, 1]], y: [0, 5] }, batchSize: 2 }),
    error: PushInputError,
    message: /label at row 1 is 5, expected a class index in \[0, 1\]/,
  },

  // ------------------------------------------------------------- checkpoints and paths
  { name: 'checkpoint: a path under a file', call: (c) => trainDeepEnsemble({ ...base, checkpoint: { dir: w(c, 'plain.txt', 'ckpt') } }), error: PushInputError, message: /checkpoint path .*plain\.txt[\\/]ckpt: .*plain\.txt is a file, expected a directory/ },
  { name: 'checkpoint: a directory holding other files', call: (c) => trainDeepEnsemble({ ...base, checkpoint: { dir: w(c, 'notes') } }), error: PushInputError, message: /notes exists and is not a push-ens checkpoint: refusing to replace it/ },
  { name: 'resume: missing checkpoint', call: (c) => trainDeepEnsemble({ ...base, resumeFrom: w(c, 'nowhere') }), error: PushInputError, message: /checkpoint .*nowhere does not exist/ },
  { name: 'resume: another architecture', call: (c) => trainDeepEnsemble({ ...base, model: { ...MODEL, layers: [{ type: 'dense', units: 16 }, { type: 'relu' }, { type: 'dense', units: 1 }] }, resumeFrom: w(c, 'ckpt') }), error: PushInputError, message: /cannot resume from .*ckpt: its model is .*this run's is/ },
  { name: 'resume: other options', call: (c) => trainDeepEnsemble({ ...base, batchSize: 16, resumeFrom: w(c, 'ckpt') }), error: PushInputError, message: /cannot resume from .*ckpt: its batchSize is 8, this run's is 16/ },
  { name: 'load: missing directory', call: (c) => Posterior.load(w(c, 'nowhere')), error: PushInputError, message: /checkpoint .*nowhere does not exist/ },
  { name: 'load: truncated weights', call: (c) => Posterior.load(w(c, 'truncated')), error: PushInputError, message: /file g\d{6}-particle-000\.params\.f32 has \d+ bytes, expected \d+: the checkpoint is truncated or corrupt/ },
  { name: 'load: edited manifest', call: (c) => Posterior.load(w(c, 'edited')), error: PushInputError, message: /its model has 41 parameters but manifest\.json says 42: the checkpoint is corrupt/ },
  { name: 'load: wrong format version', call: (c) => Posterior.load(w(c, 'future')), error: PushInputError, message: /has format version 99 .*reads versions 1 and 2$/ },
  { name: 'load: foreign manifest', call: (c) => Posterior.load(w(c, 'foreign')), error: PushInputError, message: /is not a push-ens checkpoint: manifest\.json has format "someone-else\/model"/ },
  { name: 'load: manifest is not JSON', call: (c) => Posterior.load(w(c, 'garbled')), error: PushInputError, message: /manifest\.json is not valid JSON .*: the checkpoint is corrupt/ },
  { name: 'save: onto a file', call: (c) => c.posterior.save(w(c, 'plain.txt')), error: PushInputError, message: /checkpoint path .*plain\.txt is a file: expected a directory/ },

  // ------------------------------------------------------------- prediction
  { name: 'predict: unknown mode', call: (c) => c.posterior.predict([[0, 0, 0]], { modes: ['entropy'] }), error: PushInputError, message: /prediction mode "entropy" is not valid for regression: expected one of/ },
  { name: 'predict: inputs of another width', call: (c) => c.posterior.predict([[0, 0, 0, 0]]), error: PushInputError, message: /x has rows of shape \[4\] \(4 values\) but the model takes inputs of shape \[3\]/ },
  { name: 'predict: task mismatch', call: (c) => c.posterior.predict([[0, 0, 0]], { task: 'classification' }), error: PushInputError, message: /task "classification": this posterior was trained for regression/ },
  { name: 'predict: zero batch size', call: (c) => c.posterior.predict([[0, 0, 0]], { batchSize: 0 }), error: PushInputError, message: /batchSize 0: expected a whole number >= 1/ },
  { name: 'evaluate: targets do not match inputs', call: (c) => c.posterior.evaluate([[0, 0, 0], [1, 1, 1]], [1, 2, 3]), error: PushInputError, message: /y has 3 rows but x has 2/ },
  { name: 'sampleParameters: not a MultiSWAG posterior', call: (c) => c.posterior.sampleParameters(), error: PushInputError, message: /sampleParameters needs a posterior that holds weight samples \(MultiSWAG, SG-MCMC\), this one is ensemble/ },
];

function regressionDataWithFeatures(d: number) {
  const n = 16;
  return { x: new Float32Array(n * d), xShape: [n, d], y: new Float32Array(n), yShape: [n, 1] };
}
