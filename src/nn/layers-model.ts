// Bridge to tfjs-layers models. `specFromLayersModel` turns a tfjs-layers
// model (or its topology JSON) into a push-ens SequentialSpec when every layer
// has a push-ens equivalent, so it gets the fast paths; otherwise it returns a
// `tfjs-layers` spec, which `compileModel` runs through tfjs-layers itself:
// one model instance per Network, its variables overwritten from the particle's
// flat row on every call, gradients by autodiff (slower, but general).
//
// Limits of the tfjs-layers path: models must have no non-trainable weights
// (e.g. BatchNormalization's moving statistics), a single input and a single
// output; tfjs-layers Dropout draws its own masks (dropoutSeed is ignored).
import type * as tfl from '@tensorflow/tfjs-layers';
import { ensureGradients, tf } from '../util/tf';
import { PushInputError, describeValue } from '../util/errors';
import { Rng } from '../util/rng';
import { ActivationName, LayerSpec, LayersModelSpec, ModelSpec, SequentialSpec, validateSpec } from './spec';
import { ForwardOptions, Network, ParamEntry, materializeLayout } from './network-api';
import { checkRowLength, reshapeInput } from './shapes';
import { ensureWasmConvFilterGrad } from './wasm-kernels';

type Json = Record<string, unknown>;

function layersLib(): typeof tfl {
  // Loaded on demand: tfjs-layers is big and only this bridge needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@tensorflow/tfjs-layers') as typeof tfl;
}

/** The pythonic (snake_case) topology JSON of a model, a topology object or its JSON text. */
export function topologyOf(modelOrTopology: tfl.LayersModel | Json | string): Json {
  let topo: unknown = modelOrTopology;
  if (typeof topo === 'string') {
    try {
      topo = JSON.parse(topo);
    } catch {
      throw new PushInputError(`tfjs-layers topology is not valid JSON: ${describeValue(modelOrTopology)}`);
    }
  }
  if (topo !== null && typeof topo === 'object' && typeof (topo as { toJSON?: unknown }).toJSON === 'function' && 'layers' in topo) {
    topo = (topo as tfl.LayersModel).toJSON(null, false);
  }
  if (topo === null || typeof topo !== 'object') throw new PushInputError(`tfjs-layers model ${describeValue(modelOrTopology)}: expected a LayersModel or its topology JSON`);
  let t = topo as Json;
  if (t.modelTopology && typeof t.modelTopology === 'object') t = t.modelTopology as Json; // a whole model.json
  if (t.model_config && typeof t.model_config === 'object') t = t.model_config as Json; // Keras-converted topology
  if (typeof t.class_name !== 'string' || t.config === undefined) {
    throw new PushInputError(`tfjs-layers topology ${describeValue(t)}: expected {class_name, config}`);
  }
  return t;
}

const CONVERTIBLE_ACTIVATIONS: readonly string[] = ['relu', 'tanh', 'elu', 'sigmoid'];

/**
 * A push-ens SequentialSpec equivalent to the model when every layer is supported
 * (InputLayer, Dense, Dropout, Flatten, Conv2D, MaxPooling2D, AveragePooling2D,
 * Activation; activations linear/relu/tanh/elu/sigmoid), else `{ format: 'tfjs-layers', topology }`.
 * Either way the flat parameter order equals the order of the model's weights.
 */
export function specFromLayersModel(modelOrTopology: tfl.LayersModel | Json | string): ModelSpec {
  const topology = topologyOf(modelOrTopology);
  const converted = convertSequential(topology);
  if (converted) {
    try {
      return validateSpec(converted);
    } catch (e) {
      if (!(e instanceof PushInputError)) throw e; // e.g. Dense on a rank-3 input: tfjs-layers handles it
    }
  }
  return { format: 'tfjs-layers', topology };
}

function convertSequential(topology: Json): SequentialSpec | null {
  if (topology.class_name !== 'Sequential') return null;
  const cfg = topology.config as Json | Json[];
  const layers = (Array.isArray(cfg) ? cfg : (cfg.layers as Json[])) ?? [];
  let inputShape: number[] | null = null;
  const out: LayerSpec[] = [];
  for (const layer of layers) {
    const c = (layer.config ?? {}) as Json;
    const batchShape = (c.batch_input_shape ?? c.batch_shape) as (number | null)[] | undefined;
    if (batchShape && inputShape === null) inputShape = batchShape.slice(1) as number[];
    const converted = convertLayer(String(layer.class_name), c);
    if (converted === null) return null;
    out.push(...converted);
  }
  if (!inputShape || !inputShape.every((d) => Number.isInteger(d) && d > 0)) return null;
  return { format: 'push-ens/sequential', inputShape, layers: out };
}

/** push-ens layers for one Keras layer config, or null if there is no exact equivalent. */
function convertLayer(className: string, c: Json): LayerSpec[] | null {
  const activation = (a: unknown): LayerSpec[] | null =>
    a === undefined || a === null || a === 'linear' ? [] : CONVERTIBLE_ACTIVATIONS.includes(a as string) ? [{ type: a as ActivationName }] : null;
  const channelsLast = c.data_format === undefined || c.data_format === null || c.data_format === 'channels_last';
  const ones = (v: unknown) => v === undefined || v === null || v === 1 || (Array.isArray(v) && v.every((x) => x === 1));
  const size2 = (v: unknown): number | [number, number] => (Array.isArray(v) ? [v[0], v[1]] : (v as number));
  switch (className) {
    case 'InputLayer':
      return [];
    case 'Dense': {
      const act = activation(c.activation);
      return c.use_bias === false || act === null ? null : [{ type: 'dense', units: c.units as number }, ...act];
    }
    case 'Dropout':
      return c.noise_shape == null ? [{ type: 'dropout', rate: c.rate as number }] : null;
    case 'Flatten':
      return [{ type: 'flatten' }];
    case 'Activation':
      return activation(c.activation);
    case 'Conv2D': {
      const act = activation(c.activation);
      if (c.use_bias === false || act === null || !channelsLast || !ones(c.dilation_rate)) return null;
      return [
        { type: 'conv2d', filters: c.filters as number, kernelSize: size2(c.kernel_size), stride: size2(c.strides ?? 1), padding: c.padding as 'valid' | 'same' },
        ...act,
      ];
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      if (!channelsLast) return null;
      const poolSize = size2(c.pool_size ?? 2);
      return [
        {
          type: className === 'MaxPooling2D' ? 'maxPool2d' : 'avgPool2d',
          poolSize,
          stride: c.strides == null ? poolSize : size2(c.strides),
          padding: (c.padding ?? 'valid') as 'valid' | 'same',
        },
      ];
    }
    default:
      return null;
  }
}

/** A model's weights as one flat row, in push-ens order (valid for both kinds of spec it converts to). */
export function flattenLayersModelWeights(model: tfl.LayersModel): Float32Array {
  const weights = model.getWeights(); // the model's own variables: read, never dispose
  const row = new Float32Array(weights.reduce((s, w) => s + w.size, 0));
  let offset = 0;
  for (const w of weights) {
    row.set(w.dataSync() as Float32Array, offset);
    offset += w.size;
  }
  return row;
}

// -------------------------------------------------------------- the runtime

/** tfjs-layers' convertPythonicToTs (not exported by the package): snake_case topology -> TS config. */
function pythonicToTs(value: unknown, key?: string): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return toCamelCase(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) {
    return value.map((item, i) =>
      (key === 'inboundNodes' || key === 'outputLayers' || key === 'inputLayers') && i === 0 && typeof item === 'string' ? item : pythonicToTs(item, key),
    );
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(value as Json)) {
    if (k === 'name' && typeof v === 'string') out[k] = v;
    else {
      const tsKey = toCamelCase(k);
      out[tsKey] = pythonicToTs(v, tsKey);
    }
  }
  return out;
}

function toCamelCase(s: string): string {
  if (s.length <= 1 || s.indexOf('_') === -1) return s;
  return s.replace(/[_]+(\w|$)/g, (_m, p1: string) => p1.toUpperCase());
}

/** Builds the tfjs-layers model of a topology synchronously (modelFromJSON without weights, minus the Promise). */
function buildLayersModel(topology: Json): tfl.LayersModel {
  layersLib(); // registers the layer and model classes
  const ts = pythonicToTs(topologyOf(topology)) as { className: string; config: Json };
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[ts.className];
  if (!entry) throw new PushInputError(`tfjs-layers model class ${describeValue(ts.className)} is not known to tfjs-layers`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, ts.config as tf.serialization.ConfigDict) as unknown as tfl.LayersModel;
}

export function compileLayersModel(spec: LayersModelSpec): Network {
  return new LayersModelNetwork(spec);
}

class LayersModelNetwork implements Network {
  readonly numParams: number;
  readonly layout: ParamEntry[] = [];
  readonly inputShape: readonly number[];
  readonly outputSize: number;
  readonly hasDropout: boolean;
  readonly isDenseStack = false;
  private readonly model: tfl.LayersModel;
  private readonly variables: tf.Variable[] = [];
  private readonly layerVariables: tfl.LayerVariable[] = [];
  /** Per layout entry: uniform bound, or a constant (1 for gamma-like, 0 for beta-like weights). */
  private readonly init: ({ bound: number } | { value: number })[] = [];

  constructor(readonly spec: LayersModelSpec) {
    const model = buildLayersModel(spec.topology);
    this.model = model;
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      model.dispose();
      throw new PushInputError(`tfjs-layers model has ${model.inputs.length} inputs and ${model.outputs.length} outputs: expected one of each`);
    }
    if (model.nonTrainableWeights.length > 0) {
      const names = model.nonTrainableWeights.map((w) => w.originalName).join(', ');
      model.dispose();
      throw new PushInputError(`tfjs-layers model has non-trainable weights (${names}): push-ens particles carry trainable weights only`);
    }
    const inShape = model.inputs[0].shape.slice(1);
    const outShape = model.outputs[0].shape.slice(1);
    if (![...inShape, ...outShape].every((d) => typeof d === 'number' && d > 0)) {
      model.dispose();
      throw new PushInputError(`tfjs-layers model needs fixed input and output shapes, got [${inShape.join(', ')}] -> [${outShape.join(', ')}]`);
    }
    this.inputShape = inShape as number[];
    this.outputSize = (outShape as number[]).reduce((a, b) => a * b, 1);
    this.hasDropout = model.layers.some((l) => /Dropout/.test(l.getClassName()));
    let offset = 0;
    model.layers.forEach((layer, li) => {
      const kernel = layer.trainableWeights.find((w) => w.shape.length >= 2);
      const fanIn = kernel ? (kernel.shape as number[]).slice(0, -1).reduce((a, b) => a * b, 1) : 0;
      for (const w of layer.trainableWeights) {
        const shape = w.shape as number[];
        const size = shape.reduce((a, b) => a * b, 1);
        const isBias = /bias$/.test(w.originalName) || /beta$/.test(w.originalName);
        this.layout.push({ layer: li, kind: isBias ? 'bias' : 'weight', shape, offset, size });
        this.init.push(fanIn > 0 ? { bound: 1 / Math.sqrt(fanIn) } : { value: /gamma$/.test(w.originalName) ? 1 : 0 });
        this.layerVariables.push(w);
        this.variables.push(w.read() as tf.Variable);
        offset += size;
      }
    });
    this.numParams = offset;
    ensureWasmConvFilterGrad(); // Conv2D layers need it for training on wasm
  }

  initParams(seed: number, out?: Float32Array): Float32Array {
    const row = out ?? new Float32Array(this.numParams);
    checkRowLength(row, this.numParams, 'initParams out');
    const rng = new Rng(seed);
    this.layout.forEach((e, i) => {
      const view = row.subarray(e.offset, e.offset + e.size);
      const init = this.init[i];
      if ('bound' in init) rng.fillUniform(view, -init.bound, init.bound);
      else view.fill(init.value);
    });
    return row;
  }

  materialize(row: Float32Array): tf.Tensor[] {
    checkRowLength(row, this.numParams, 'parameter row');
    return materializeLayout(this.layout, row);
  }

  private setWeights(params: tf.Tensor[]): void {
    this.layerVariables.forEach((v, i) => v.write(params[i]));
  }

  private apply(x: tf.Tensor, training: boolean): tf.Tensor {
    const input = reshapeInput(x, this.inputShape);
    const out = this.model.apply(input, { training }) as tf.Tensor;
    return out.rank === 2 ? out : tf.reshape(out, [x.shape[0], this.outputSize]);
  }

  forward(params: tf.Tensor[], x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    this.setWeights(params);
    return tf.tidy(() => this.apply(x, opts.training ?? false));
  }

  valueAndGrads(params: tf.Tensor[], x: tf.Tensor, lossOfOutput: (output: tf.Tensor) => tf.Scalar, opts: ForwardOptions = {}) {
    ensureGradients();
    this.setWeights(params);
    // tfjs-layers' Dense calls tf.fused.matMul, a customGrad op; with the IS_TEST flag on,
    // tfjs's per-kernel leak check counts the tensors a taped customGrad op saves for its
    // backward pass as leaked and throws. They are freed after backprop, so the check is
    // switched off for this synchronous call only.
    const env = tf.env();
    const isTest = env.getBool('IS_TEST');
    if (isTest) env.set('IS_TEST', false);
    try {
      const { value, grads } = tf.variableGrads(() => lossOfOutput(this.apply(x, opts.training ?? false)), this.variables);
      return { value, grads: this.variables.map((v) => grads[v.name]) };
    } finally {
      if (isTest) env.set('IS_TEST', true);
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}
