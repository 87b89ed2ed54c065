// The stacked weights file of an export: each particle's arrays (as its
// algorithm's exportPlan lists them) one after the other, little-endian, each
// at an offset aligned to its element size, listed in the manifest. float32
// arrays (weights, kept samples, SWAG deviations) are stored float32, or float16
// with --float16; float64 arrays (SWAG's running moments) stay float64, since a
// sample's variance is sqMean − mean², which would cancel to noise at lower precision.
import { PushInputError } from '../../util/errors';
import { ExportPlan, TensorEntry, TensorName, WeightDtype, toFloat16 } from '../../browser/format';

export interface PackedWeights {
  bytes: Uint8Array;
  tensors: TensorEntry[];
}

const FLOAT16_MAX = 65504;

export function packWeights(plan: ExportPlan, storage: 'float32' | 'float16'): PackedWeights {
  const pieces: { entry: TensorEntry; data: Uint8Array }[] = [];
  let offset = 0;
  const add = (particle: number, name: TensorName, values: Float32Array | Float64Array, dtype: WeightDtype) => {
    let data: Uint8Array;
    if (dtype === 'float16') {
      for (let i = 0; i < values.length; i++) {
        if (!(Math.abs(values[i]) <= FLOAT16_MAX)) {
          throw new PushInputError(`--float16: particle ${particle}'s ${name}[${i}] is ${values[i]}, beyond float16's range (±${FLOAT16_MAX}): export without --float16`);
        }
      }
      const h = toFloat16(values as Float32Array);
      data = new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    } else {
      data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    }
    const size = dtype === 'float64' ? 8 : dtype === 'float16' ? 2 : 4;
    offset = Math.ceil(offset / 8) * 8; // every array starts 8-byte aligned
    pieces.push({ entry: { particle, name, dtype, offset, length: values.length }, data });
    offset += values.length * size;
  };
  const small: WeightDtype = storage === 'float16' ? 'float16' : 'float32';
  plan.arrays.forEach((arrays, k) => {
    for (const [name, values] of Object.entries(arrays) as [TensorName, Float32Array | Float64Array][]) add(k, name, values, values instanceof Float64Array ? 'float64' : small);
  });
  const bytes = new Uint8Array(Math.ceil(offset / 8) * 8);
  for (const p of pieces) bytes.set(p.data, p.entry.offset);
  return { bytes, tensors: pieces.map((p) => p.entry) };
}
