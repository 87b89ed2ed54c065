// Lets the wire format carry tf.Tensors inside device workers: a tensor is sent
// as its typed array with shape and dtype, and comes back as a tf.Tensor.
import { tf } from '../util/tf';
import type { TensorData, TensorHooks, TypedArray } from './wire';

export const tfTensorHooks: TensorHooks = {
  isTensor: (v) => v instanceof tf.Tensor,
  toData: (v) => {
    const t = v as tf.Tensor;
    return { dtype: t.dtype, shape: t.shape, data: t.dataSync() as TypedArray };
  },
  fromData: (d: TensorData) => tf.tensor(d.data as Float32Array, d.shape, d.dtype as tf.DataType),
};
