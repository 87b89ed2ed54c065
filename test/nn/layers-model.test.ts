// tfjs-layers bridge: Sequential models convert to push-ens specs (same outputs
// from the same flat weights); others run through tfjs-layers itself.
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, useBackend } from '../../src/util/tf';
import { PushInputError } from '../../src/util/errors';
import { ModelSpec, ParticleGroup, compileModel, flattenLayersModelWeights, lossAndGrad, parseLoss, specFromLayersModel, topologyOf } from '../../src/nn';
import { normalTensor, relDiff, values } from './helpers';

beforeAll(() => useBackend('wasm'));

function outputsAgree(model: tfl.LayersModel, spec: ModelSpec, x: tf.Tensor): void {
  const net = compileModel(spec);
  const row = flattenLayersModelWeights(model);
  expect(net.numParams).toBe(row.length);
  const params = net.materialize(row);
  const ours = net.forward(params, x);
  const theirs = model.predict(x) as tf.Tensor;
  expect(ours.shape).toEqual([x.shape[0], net.outputSize]);
  expect(relDiff(values(ours), values(theirs))).toBeLessThan(1e-5);
  tf.dispose([ours, theirs, ...params]);
  net.dispose();
}

test('a dense Sequential converts to a push-ens spec with the same outputs from the same flat weights', () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }),
      tfl.layers.dropout({ rate: 0.2 }),
      tfl.layers.dense({ units: 8, activation: 'tanh' }),
      tfl.layers.activation({ activation: 'sigmoid' }),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  const spec = specFromLayersModel(model);
  expect(spec).toEqual({
    format: 'push-ens/sequential',
    inputShape: [4],
    layers: [
      { type: 'dense', units: 8 },
      { type: 'relu' },
      { type: 'dropout', rate: 0.2 },
      { type: 'dense', units: 8 },
      { type: 'tanh' },
      { type: 'sigmoid' },
      { type: 'dense', units: 2 },
    ],
  });
  expect(specFromLayersModel(JSON.stringify(model.toJSON(null, false)))).toEqual(spec);
  outputsAgree(model, spec, normalTensor([5, 4], 1));
  model.dispose();
});

test('a conv Sequential converts too (Conv2D, MaxPooling2D, AveragePooling2D, Flatten)', () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [8, 8, 1] }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 3, kernelSize: [2, 3], strides: 1 }),
      tfl.layers.averagePooling2d({ poolSize: 1 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  const spec = specFromLayersModel(model);
  expect(spec.format).toBe('push-ens/sequential');
  outputsAgree(model, spec, normalTensor([2, 8, 8, 1], 2));
  model.dispose();
});

describe('models without a push-ens equivalent run through tfjs-layers', () => {
  test('an unsupported activation falls back; the spec is JSON; outputs match the model', () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 6, activation: 'softplus', inputShape: [3] }), tfl.layers.dense({ units: 1 })] });
    const spec = specFromLayersModel(model);
    expect(spec.format).toBe('tfjs-layers');
    const again = JSON.parse(JSON.stringify(spec)) as ModelSpec;
    outputsAgree(model, again, normalTensor([4, 3], 3));
    model.dispose();
  });

  test('gradients through tfjs-layers equal the explicit path of the converted spec; group steps work without leaks', () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 5, activation: 'tanh', inputShape: [3] }), tfl.layers.dense({ units: 2 })] });
    const native = compileModel(specFromLayersModel(model));
    const viaLayers = compileModel({ format: 'tfjs-layers', topology: topologyOf(model) });
    expect(viaLayers.layout.map((e) => [e.kind, e.shape, e.offset])).toEqual(native.layout.map((e) => [e.kind, e.shape, e.offset]));
    const row = native.initParams(6);
    const x = normalTensor([7, 3], 4);
    const y = normalTensor([7, 2], 5);
    const grad = (net: typeof native) => {
      const params = net.materialize(row);
      const g = new Float32Array(net.numParams);
      const loss = lossAndGrad(net, params, x, y, parseLoss('mse'), g);
      tf.dispose(params);
      return { loss, g };
    };
    const a = grad(native);
    const b = grad(viaLayers);
    expect(b.loss).toBeCloseTo(a.loss, 5);
    expect(relDiff(b.g, a.g)).toBeLessThan(1e-5);

    const group = new ParticleGroup(viaLayers, { optimizer: { type: 'adam', lr: 0.05 } });
    group.add(row);
    group.add();
    const before = tf.memory().numTensors;
    const first = group.step([0, 1], { x, y }, 'mse');
    for (let i = 0; i < 20; i++) group.step([0, 1], { x, y }, 'mse');
    const last = group.step([0, 1], { x, y }, 'mse');
    expect(last[0]).toBeLessThan(first[0]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    viaLayers.dispose();
    model.dispose();
  });

  test('functional (non-Sequential) models run through tfjs-layers too', () => {
    const input = tfl.input({ shape: [3] });
    const hidden = tfl.layers.dense({ units: 5, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    const skip = tfl.layers.dense({ units: 5 }).apply(input) as tfl.SymbolicTensor;
    const output = tfl.layers.dense({ units: 2 }).apply(tfl.layers.add().apply([hidden, skip])) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    const spec = specFromLayersModel(model);
    expect(spec.format).toBe('tfjs-layers');
    outputsAgree(model, JSON.parse(JSON.stringify(spec)) as ModelSpec, normalTensor([4, 3], 6));
    model.dispose();
  });

  test('models with non-trainable weights are rejected with a one-line PushInputError', () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [3] }), tfl.layers.batchNormalization()] });
    const spec = specFromLayersModel(model);
    expect(spec.format).toBe('tfjs-layers');
    expect(() => compileModel(spec)).toThrow(PushInputError);
    expect(() => compileModel(spec)).toThrow(/non-trainable weights/);
    model.dispose();
  });
});

test('garbage in: one-line PushInputErrors', () => {
  expect(() => specFromLayersModel('{not json')).toThrow(/not valid JSON/);
  expect(() => specFromLayersModel({ foo: 1 })).toThrow(/expected \{class_name, config\}/);
});
