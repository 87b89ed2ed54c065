// Model specs on the command line: `biggerNN:L,D`, `mlp:H1,H2,...`, `lenet`,
// or a path to a model JSON (a tfjs-layers model.json / topology, or a
// push-ens sequential spec). Input and output sizes come from the data.
import * as fs from 'node:fs';
import { PushInputError } from '../util/errors';
import { readRegularText } from '../util/safe-read';
import { LayerSpec, ModelSpec, SequentialSpec, layerOutputShapes, lenet, mlp, resolveMlp, sequential, validateSpec } from '../nn/spec';
import type * as LayersModel from '../nn/layers-model';
import { show } from './options';

export const MODEL_FORMS = 'biggerNN:L,D, mlp:H1,H2,..., lenet, or a path to a model JSON file';

/** What the data asks of a model: the shape of one input and the width of the output. */
export interface ModelIO {
  /** Shape of one example, e.g. [20] or [28, 28, 1]. */
  inputShape: number[];
  /** Network outputs per example: targets (regression), classes (classification), 2 x targets for gaussian-nll. */
  outputSize: number;
}

export interface ResolvedModel {
  /** The text the user gave, kept in the checkpoint. */
  text: string;
  spec: ModelSpec;
}

export const DEFAULT_MLP_HIDDEN = [64, 64];
const MAX_WIDTH = 100_000;
const MAX_BLOCKS = 1000;
/** A model JSON holds a topology (and maybe weights specs), not weights: far below this. */
const MAX_MODEL_FILE_BYTES = 64 * 1024 * 1024;

export function describeModelSpecs(): string {
  return [
    'Model specs (input and output sizes come from the data):',
    '  biggerNN:L,D   the Push tutorial\'s BiggerNN: Linear(in,D), then L blocks of Linear(D,D)-ReLU-Linear(D,D), Linear(D,out)',
    '                 (biggerNN:10,20 on 20 inputs is exactly the seed network, 8,421 parameters)',
    `  mlp:H1,H2,...  a ReLU multilayer perceptron with those hidden widths (mlp alone: ${DEFAULT_MLP_HIDDEN.join(',')}); the API's nn.mlp([H1, H2])`,
    '  lenet          LeNet-5 for 28x28x1 images (mnist)',
    '  PATH.json      a tfjs-layers model (model.json or its topology) or a push-ens sequential spec',
  ].join('\n');
}

function specError(text: string, problem: string): PushInputError {
  return new PushInputError(`model spec ${show(text)}: ${problem}; expected ${MODEL_FORMS}`);
}

function parseSizes(text: string, what: string, body: string, min: number, max: number): number[] {
  const parts = body.split(',').map((s) => s.trim());
  return parts.map((p, i) => {
    const v = /^\d+$/.test(p) ? Number(p) : NaN;
    if (!(v >= min && v <= max)) {
      throw specError(text, `${what}${parts.length > 1 ? ` #${i + 1}` : ''} is ${show(p)}, expected a whole number in [${min}, ${max}]`);
    }
    return v;
  });
}

/** True when the text names a file rather than a built-in form. */
function looksLikePath(text: string): boolean {
  return /[\\/]/.test(text) || /\.json$/i.test(text);
}

const BUILT_IN_KINDS = ['biggernn', 'mlp', 'lenet'];

/** True when resolveModelSpec would read `text` from a file: a path, or anything not a built-in form. */
export function modelTextNamesFile(text: string): boolean {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const kind = (colon < 0 ? trimmed : trimmed.slice(0, colon)).toLowerCase();
  return looksLikePath(trimmed) || !BUILT_IN_KINDS.includes(kind);
}

/** Resolves a model spec string for data with the given input shape and output size. */
export function resolveModelSpec(text: string, io: ModelIO): ResolvedModel {
  const trimmed = text.trim();
  if (trimmed === '') throw specError(text, 'it is empty');
  if (looksLikePath(trimmed)) return { text: trimmed, spec: fromFile(trimmed, io) };
  const colon = trimmed.indexOf(':');
  const kind = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const param = colon < 0 ? undefined : trimmed.slice(colon + 1);
  const flatIn = io.inputShape.reduce((a, b) => a * b, 1);
  const flatten: LayerSpec[] = io.inputShape.length > 1 ? [{ type: 'flatten' }] : [];
  switch (kind.toLowerCase()) {
    case 'biggernn': {
      if (param === undefined) throw specError(text, 'biggerNN needs L,D (blocks, width), e.g. biggerNN:10,20');
      const [L, D] = parseTwo(text, param);
      const layers: LayerSpec[] = [...flatten];
      // Push's BiggerNN takes D inputs; other input sizes get a first Linear(in, D).
      if (flatIn !== D || flatten.length > 0) layers.push({ type: 'dense', units: D });
      for (let i = 0; i < L; i++) layers.push({ type: 'dense', units: D }, { type: 'relu' }, { type: 'dense', units: D });
      layers.push({ type: 'dense', units: io.outputSize });
      return { text: trimmed, spec: sequential(io.inputShape, layers) };
    }
    case 'mlp': {
      // The same network as the API's nn.mlp(hidden), sized by the data.
      const hidden = param === undefined ? DEFAULT_MLP_HIDDEN : parseSizes(text, 'hidden width', param, 1, MAX_WIDTH);
      return { text: trimmed, spec: resolveMlp(mlp(hidden), io) };
    }
    case 'lenet': {
      if (param !== undefined) throw specError(text, 'lenet takes no parameters');
      const base = lenet();
      if (!sameShape(io.inputShape, base.inputShape)) {
        throw new PushInputError(
          `model spec "lenet" takes 28x28x1 images, but the data's inputs have shape [${io.inputShape.join(', ')}]: expected an image data set such as mnist`,
        );
      }
      const layers = base.layers.map((l) => ({ ...l }));
      layers[layers.length - 1] = { type: 'dense', units: io.outputSize };
      return { text: trimmed, spec: sequential(base.inputShape, layers) };
    }
    default:
      if (fs.existsSync(trimmed)) return { text: trimmed, spec: fromFile(trimmed, io) };
      throw new PushInputError(`unknown model spec ${show(text)}: expected ${MODEL_FORMS}`);
  }
}

function parseTwo(text: string, param: string): [number, number] {
  const parts = param.split(',');
  if (parts.length !== 2) throw specError(text, `biggerNN takes two numbers L,D, got ${show(param)}`);
  const [L] = parseSizes(text, 'L (blocks)', parts[0], 0, MAX_BLOCKS);
  const [D] = parseSizes(text, 'D (width)', parts[1], 1, MAX_WIDTH);
  return [L, D];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fromFile(file: string, io: ModelIO): ModelSpec {
  if (!fs.existsSync(file)) throw new PushInputError(`model file ${show(file)}: no such file, expected a model JSON file or ${MODEL_FORMS}`);
  // The user typed the path, so a symlink is followed; a FIFO or device is refused, not read.
  const text = readRegularText(file, { maxBytes: MAX_MODEL_FILE_BYTES, followSymlinks: true, what: `model file ${show(file)}` });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error: the file's content stays out of errors.
    throw new PushInputError(`model file ${show(file)} is not valid JSON: expected a model JSON file`);
  }
  let spec: ModelSpec;
  try {
    const format = (json as { format?: unknown } | null)?.format;
    // tfjs-layers (and TensorFlow.js) load only for model files.
    const { specFromLayersModel } = require('../nn/layers-model') as typeof LayersModel;
    spec = format === 'push-ens/sequential' ? validateSpec(json) : specFromLayersModel(json as Record<string, unknown>);
  } catch (err) {
    if (err instanceof PushInputError) throw new PushInputError(`model file ${show(file)}: ${err.message}`);
    throw err;
  }
  checkFileModelFits(file, spec, io);
  return spec;
}

/** The model must take the data's inputs and produce the right number of outputs. */
function checkFileModelFits(file: string, spec: ModelSpec, io: ModelIO): void {
  let inputShape: number[] | undefined;
  let outputSize: number | undefined;
  if (spec.format === 'push-ens/sequential') {
    inputShape = spec.inputShape;
    const shapes = layerOutputShapes(spec);
    const last = shapes[shapes.length - 1];
    outputSize = last.length === 1 ? last[0] : undefined;
  } else {
    const fromTopology = topologyIO(spec.topology);
    inputShape = fromTopology.inputShape;
    outputSize = fromTopology.outputSize;
  }
  const flat = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (inputShape && flat(inputShape) !== flat(io.inputShape)) {
    throw new PushInputError(
      `model file ${show(file)} takes inputs of shape [${inputShape.join(', ')}], but the data's inputs have shape [${io.inputShape.join(', ')}]: expected a model that fits the data`,
    );
  }
  if (outputSize !== undefined && outputSize !== io.outputSize) {
    throw new PushInputError(
      `model file ${show(file)} has ${outputSize} outputs, but the data and loss need ${io.outputSize}: expected a model that fits the data`,
    );
  }
}

/** Best effort for a tfjs-layers topology: the first layer's batch input shape and the last Dense's units. */
function topologyIO(topology: Record<string, unknown>): { inputShape?: number[]; outputSize?: number } {
  const cfg = topology.config as Record<string, unknown> | Record<string, unknown>[] | undefined;
  const layers = (Array.isArray(cfg) ? cfg : (cfg?.layers as Record<string, unknown>[] | undefined)) ?? [];
  const first = (layers[0]?.config ?? {}) as Record<string, unknown>;
  const batchShape = (first.batch_input_shape ?? first.batch_shape) as (number | null)[] | undefined;
  const inputShape = batchShape && batchShape.slice(1).every((d) => typeof d === 'number') ? (batchShape.slice(1) as number[]) : undefined;
  let outputSize: number | undefined;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i];
    if (l.class_name === 'Dense') {
      outputSize = (l.config as Record<string, unknown>).units as number;
      break;
    }
    if (!['Activation', 'Dropout', 'Softmax'].includes(String(l.class_name))) break;
  }
  return { inputShape, outputSize };
}

/** Parameters of a sequential spec (dense and conv weights and biases); undefined for tfjs-layers topologies. */
export function countParameters(spec: ModelSpec): number | undefined {
  if (spec.format !== 'push-ens/sequential') return undefined;
  const s = spec as SequentialSpec;
  let shape = [...s.inputShape];
  const shapes = layerOutputShapes(s);
  let total = 0;
  s.layers.forEach((layer, i) => {
    if (layer.type === 'dense') total += shape[0] * layer.units + layer.units;
    if (layer.type === 'conv2d') {
      const k = typeof layer.kernelSize === 'number' ? [layer.kernelSize, layer.kernelSize] : layer.kernelSize;
      total += k[0] * k[1] * shape[2] * layer.filters + layer.filters;
    }
    shape = shapes[i];
  });
  return total;
}
