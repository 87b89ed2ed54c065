// Model specs: small JSON-serialisable descriptions of sequential networks, so a
// model can be sent to a device worker, saved with its particles and rebuilt
// identically anywhere. Builders for the models push-ens ships with (the Push
// tutorial's BiggerNN, MLPs, LeNet) and validation with one-line errors.
import { PushInputError, describeValue } from '../util/errors';

export type ActivationName = 'relu' | 'tanh' | 'elu' | 'gelu' | 'sigmoid';
export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'tanh', 'elu', 'gelu', 'sigmoid'];

export type Padding = 'valid' | 'same';
/** A size given as one number (square) or [height, width]. */
export type Size2 = number | [number, number];

export interface DenseSpec {
  type: 'dense';
  units: number;
}
export interface ActivationSpec {
  type: ActivationName;
}
export interface DropoutSpec {
  type: 'dropout';
  /** Probability of zeroing an element (PyTorch's p), in [0, 1). */
  rate: number;
}
export interface FlattenSpec {
  type: 'flatten';
}
export interface Conv2dSpec {
  type: 'conv2d';
  filters: number;
  kernelSize: Size2;
  /** Default 1. */
  stride?: Size2;
  /** Default 'valid' (PyTorch's padding=0). */
  padding?: Padding;
}
export interface Pool2dSpec {
  type: 'maxPool2d' | 'avgPool2d';
  poolSize: Size2;
  /** Default poolSize, as in PyTorch. */
  stride?: Size2;
  /** Default 'valid'. */
  padding?: Padding;
}
export type LayerSpec = DenseSpec | ActivationSpec | DropoutSpec | FlattenSpec | Conv2dSpec | Pool2dSpec;
export type LayerType = LayerSpec['type'];

/** A sequential network of push-ens layers. Inputs are NHWC images or flat vectors. */
export interface SequentialSpec {
  format: 'push-ens/sequential';
  /** Shape of one example, without the batch dimension. */
  inputShape: number[];
  layers: LayerSpec[];
}

/** A tfjs-layers model we could not express as a SequentialSpec; run through tfjs-layers. */
export interface LayersModelSpec {
  format: 'tfjs-layers';
  /** The model's topology JSON (what `model.toJSON(null, false)` returns). */
  topology: Record<string, unknown>;
}

export type ModelSpec = SequentialSpec | LayersModelSpec;

// ---------------------------------------------------------------- builders

export function sequential(inputShape: number[], layers: LayerSpec[]): SequentialSpec {
  const spec: SequentialSpec = { format: 'push-ens/sequential', inputShape: [...inputShape], layers: layers.map((l) => ({ ...l })) };
  validateSpec(spec);
  return spec;
}

/**
 * The Push tutorial's BiggerNN(n=L, D): L blocks of Linear(D,D) -> ReLU -> Linear(D,D),
 * with no activation between blocks, then Linear(D,1). 8,421 parameters for L=10, D=20.
 */
export function biggerNN(L: number, D: number): SequentialSpec {
  checkPositiveInt(L, 'biggerNN L (number of blocks)', true);
  checkPositiveInt(D, 'biggerNN D (width)');
  const layers: LayerSpec[] = [];
  for (let i = 0; i < L; i++) layers.push({ type: 'dense', units: D }, { type: 'relu' }, { type: 'dense', units: D });
  layers.push({ type: 'dense', units: 1 });
  return sequential([D], layers);
}

export interface MlpOptions {
  activation?: ActivationName;
  /** Dropout rate after every hidden activation; 0 = no dropout layers. */
  dropout?: number;
}

/** Input and output sizes that make an MLP a complete network (otherwise they come from the data). */
export interface MlpSizes {
  /** Inputs per example: a width (e.g. 784) or a shape (e.g. [28, 28, 1], flattened first). */
  inputs: number | number[];
  /** Network outputs per example. */
  outputs: number;
}

/**
 * An MLP whose input and output sizes come from the data: training functions
 * resolve it (the CLI's `mlp:H1,H2` is the same thing).
 */
export interface MlpTemplate {
  format: 'push-ens/mlp';
  hidden: number[];
  activation: ActivationName;
  dropout: number;
}

/**
 * Multilayer perceptron with these hidden widths, as the CLI's `mlp:H1,H2,...`:
 * activation (and dropout) after each hidden layer, then a linear output layer.
 * Without `inputs` and `outputs` the training functions take them from the data;
 * with them it is a complete network (`dense([in, ...hidden, out])` is the same).
 */
export function mlp(hidden: number[], opts: MlpOptions & MlpSizes): SequentialSpec;
export function mlp(hidden: number[], opts?: MlpOptions): MlpTemplate;
export function mlp(hidden: number[], opts: MlpOptions & Partial<MlpSizes> = {}): MlpTemplate | SequentialSpec {
  const { activation = 'relu', dropout = 0, inputs, outputs } = opts;
  if (!Array.isArray(hidden)) throw new PushInputError(`mlp hidden widths ${describeValue(hidden)}: expected an array such as [32, 32]`);
  hidden.forEach((h, i) => checkPositiveInt(h, `mlp hidden width #${i + 1}`));
  if (!ACTIVATIONS.includes(activation)) {
    throw new PushInputError(`mlp activation ${describeValue(activation)}: expected one of ${ACTIVATIONS.join(', ')}`);
  }
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new PushInputError(`mlp dropout ${describeValue(dropout)}: expected a number in [0, 1)`);
  const template: MlpTemplate = { format: 'push-ens/mlp', hidden: [...hidden], activation, dropout };
  if (inputs === undefined && outputs === undefined) return template;
  if (inputs === undefined || outputs === undefined) {
    throw new PushInputError(`mlp needs both inputs and outputs (or neither, to take them from the data); got ${inputs === undefined ? 'outputs' : 'inputs'} only`);
  }
  return resolveMlp(template, { inputShape: typeof inputs === 'number' ? [inputs] : inputs, outputSize: outputs });
}

/** Fully connected network: sizes = [in, hidden..., out]; ReLU (or `activation`) and dropout after each hidden layer. */
export function dense(sizes: number[], opts: MlpOptions = {}): SequentialSpec {
  if (!Array.isArray(sizes) || sizes.length < 2) {
    throw new PushInputError(`dense sizes ${describeValue(sizes)}: expected [in, hidden..., out] with at least 2 entries`);
  }
  return mlp(sizes.slice(1, -1), { ...opts, inputs: sizes[0], outputs: sizes[sizes.length - 1] });
}

/** True for an MLP still waiting for its input and output sizes. */
export function isMlpTemplate(v: unknown): v is MlpTemplate {
  return v !== null && typeof v === 'object' && (v as { format?: unknown }).format === 'push-ens/mlp';
}

/** The complete network of a template for one example shape and output width (images are flattened first). */
export function resolveMlp(t: MlpTemplate, io: { inputShape: number[]; outputSize: number }): SequentialSpec {
  checkPositiveInt(io.outputSize, 'mlp outputs');
  const layers: LayerSpec[] = io.inputShape.length > 1 ? [{ type: 'flatten' }] : [];
  for (const h of t.hidden) {
    layers.push({ type: 'dense', units: h }, { type: t.activation });
    if (t.dropout > 0) layers.push({ type: 'dropout', rate: t.dropout });
  }
  layers.push({ type: 'dense', units: io.outputSize });
  return sequential(io.inputShape, layers);
}

/** LeNet-5-style classifier for [28, 28, 1] images, 10 logits (61,706 parameters). */
export function lenet(): SequentialSpec {
  return sequential(
    [28, 28, 1],
    [
      { type: 'conv2d', filters: 6, kernelSize: 5, padding: 'same' },
      { type: 'relu' },
      { type: 'maxPool2d', poolSize: 2 },
      { type: 'conv2d', filters: 16, kernelSize: 5 },
      { type: 'relu' },
      { type: 'maxPool2d', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 120 },
      { type: 'relu' },
      { type: 'dense', units: 84 },
      { type: 'relu' },
      { type: 'dense', units: 10 },
    ],
  );
}

// -------------------------------------------------------------- validation

const LAYER_KEYS: Record<LayerType, readonly string[]> = {
  dense: ['units'],
  relu: [],
  tanh: [],
  elu: [],
  gelu: [],
  sigmoid: [],
  dropout: ['rate'],
  flatten: [],
  conv2d: ['filters', 'kernelSize', 'stride', 'padding'],
  maxPool2d: ['poolSize', 'stride', 'padding'],
  avgPool2d: ['poolSize', 'stride', 'padding'],
};

/** Shape of one example after each layer (index i = output of layer i). Assumes a valid spec. */
export function layerOutputShapes(spec: SequentialSpec): number[][] {
  const shapes: number[][] = [];
  let shape = [...spec.inputShape];
  spec.layers.forEach((layer, i) => {
    shape = outputShape(layer, shape, i);
    shapes.push(shape);
  });
  return shapes;
}

/** Throws a PushInputError naming the first problem; returns the spec (typed) if it is valid. */
export function validateSpec(spec: unknown): ModelSpec {
  if (spec === null || typeof spec !== 'object') throw new PushInputError(`model spec ${describeValue(spec)}: expected an object`);
  const s = spec as Record<string, unknown>;
  if (isMlpTemplate(spec)) {
    throw new PushInputError(
      `mlp([${spec.hidden.join(', ')}]) has no input and output sizes here: pass it to a training function (which takes them from the data), or give them: mlp([...], { inputs, outputs })`,
    );
  }
  if (s.format === 'tfjs-layers') {
    if (s.topology === null || typeof s.topology !== 'object') {
      throw new PushInputError(`tfjs-layers model spec: topology ${describeValue(s.topology)} is not an object`);
    }
    return spec as LayersModelSpec;
  }
  if (s.format !== 'push-ens/sequential') {
    throw new PushInputError(`model spec format ${describeValue(s.format)}: expected "push-ens/sequential" or "tfjs-layers"`);
  }
  const inputShape = s.inputShape;
  if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new PushInputError(`model inputShape ${describeValue(inputShape)}: expected a non-empty array of positive integers`);
  }
  if (!Array.isArray(s.layers) || s.layers.length === 0) {
    throw new PushInputError(`model layers ${describeValue(s.layers)}: expected a non-empty array`);
  }
  let shape = [...(inputShape as number[])];
  (s.layers as unknown[]).forEach((layer, i) => {
    checkLayerFields(layer, i);
    shape = outputShape(layer as LayerSpec, shape, i);
  });
  return spec as SequentialSpec;
}

function checkLayerFields(layer: unknown, i: number): void {
  if (layer === null || typeof layer !== 'object') throw new PushInputError(`layer ${i} ${describeValue(layer)}: expected an object with a "type"`);
  const l = layer as Record<string, unknown>;
  const type = l.type as LayerType;
  const allowed = LAYER_KEYS[type];
  if (!allowed || !Object.prototype.hasOwnProperty.call(LAYER_KEYS, type)) {
    throw new PushInputError(`layer ${i} type ${describeValue(l.type)}: expected one of ${Object.keys(LAYER_KEYS).join(', ')}`);
  }
  for (const key of Object.keys(l)) {
    if (key !== 'type' && !allowed.includes(key)) {
      throw new PushInputError(`layer ${i} (${type}) has unknown field ${JSON.stringify(key)}: expected ${allowed.length ? allowed.join(', ') : 'no fields besides type'}`);
    }
  }
  const what = `layer ${i} (${type})`;
  switch (type) {
    case 'dense':
      checkPositiveInt(l.units, `${what} units`);
      break;
    case 'dropout':
      if (typeof l.rate !== 'number' || !(l.rate >= 0 && l.rate < 1)) throw new PushInputError(`${what} rate ${describeValue(l.rate)}: expected a number in [0, 1)`);
      break;
    case 'conv2d':
      checkPositiveInt(l.filters, `${what} filters`);
      checkSize2(l.kernelSize, `${what} kernelSize`);
      if (l.stride !== undefined) checkSize2(l.stride, `${what} stride`);
      checkPadding(l.padding, what);
      break;
    case 'maxPool2d':
    case 'avgPool2d':
      checkSize2(l.poolSize, `${what} poolSize`);
      if (l.stride !== undefined) checkSize2(l.stride, `${what} stride`);
      checkPadding(l.padding, what);
      break;
    default:
      break;
  }
}

/** Output shape of one layer given its input shape (one example, no batch dim). */
function outputShape(layer: LayerSpec, shape: number[], i: number): number[] {
  const what = `layer ${i} (${layer.type})`;
  switch (layer.type) {
    case 'dense':
      if (shape.length !== 1) throw new PushInputError(`${what} needs a flat input but gets shape [${shape.join(', ')}]: add a flatten layer before it`);
      return [layer.units];
    case 'flatten':
      return [shape.reduce((a, b) => a * b, 1)];
    case 'conv2d':
    case 'maxPool2d':
    case 'avgPool2d': {
      if (shape.length !== 3) throw new PushInputError(`${what} needs an image input [height, width, channels] but gets shape [${shape.join(', ')}]`);
      const window = pair(layer.type === 'conv2d' ? layer.kernelSize : layer.poolSize);
      const stride = pair(layer.stride ?? (layer.type === 'conv2d' ? 1 : layer.poolSize));
      const padding = layer.padding ?? 'valid';
      const out = [0, 1].map((a) =>
        padding === 'same' ? Math.ceil(shape[a] / stride[a]) : Math.floor((shape[a] - window[a]) / stride[a]) + 1,
      );
      if (out[0] < 1 || out[1] < 1) {
        throw new PushInputError(`${what} window [${window.join(', ')}] does not fit its input [${shape.join(', ')}] with padding "${padding}"`);
      }
      return [out[0], out[1], layer.type === 'conv2d' ? layer.filters : shape[2]];
    }
    default:
      return shape;
  }
}

/** [height, width] of a Size2. */
export function pair(v: Size2): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

function checkSize2(v: unknown, what: string): void {
  const ok = (d: unknown) => Number.isInteger(d) && (d as number) > 0;
  if (ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok))) return;
  throw new PushInputError(`${what} ${describeValue(v)}: expected a positive integer or [height, width]`);
}

function checkPadding(v: unknown, what: string): void {
  if (v !== undefined && v !== 'valid' && v !== 'same') throw new PushInputError(`${what} padding ${describeValue(v)}: expected "valid" or "same"`);
}

function checkPositiveInt(v: unknown, what: string, allowZero = false): void {
  if (!Number.isInteger(v) || (v as number) < (allowZero ? 0 : 1)) {
    throw new PushInputError(`${what} ${describeValue(v)}: expected a ${allowZero ? 'non-negative' : 'positive'} integer`);
  }
}

export interface ModelIO {
  inputShape: number[];
  outputSize: number;
  numParams: number;
}

/**
 * Input shape, output width and parameter count of a valid sequential spec,
 * computed from the spec alone (compileModel gives the same numbers, but
 * loads TensorFlow.js, which the coordinator's thread does not otherwise need).
 */
export function sequentialIO(spec: SequentialSpec): ModelIO {
  const shapes = layerOutputShapes(spec);
  let numParams = 0;
  spec.layers.forEach((layer, i) => {
    const inShape = i === 0 ? spec.inputShape : shapes[i - 1];
    if (layer.type === 'dense') numParams += (inShape[0] + 1) * layer.units;
    if (layer.type === 'conv2d') {
      const [kh, kw] = pair(layer.kernelSize);
      numParams += (kh * kw * inShape[2] + 1) * layer.filters;
    }
  });
  const last = shapes.length ? shapes[shapes.length - 1] : spec.inputShape;
  return { inputShape: [...spec.inputShape], outputSize: last.reduce((a, b) => a * b, 1), numParams };
}
