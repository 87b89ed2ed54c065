// The stacked weights file of an export: each particle's arrays one after the
// other, little-endian, each at an offset aligned to its element size, listed
// in the manifest. Weights (and SWAG deviations) are float32, or float16 with
// --float16; SWAG's running moments stay float64, since a sample's variance is
// sqMean − mean², which would cancel to noise at lower precision.
import { PushInputError } from '../../util/errors';
import type { ParticleState } from '../../bayes/particle-state';
import { TensorEntry, TensorName, WeightDtype, toFloat16 } from '../../browser/format';

export interface PackedWeights {
  bytes: Uint8Array;
  tensors: TensorEntry[];
}

const FLOAT16_MAX = 65504;

export function packWeights(states: readonly ParticleState[], algorithm: string, storage: 'float32' | 'float16'): PackedWeights {
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
    const size = values.BYTES_PER_ELEMENT === 8 ? 8 : dtype === 'float16' ? 2 : 4;
    offset = Math.ceil(offset / 8) * 8; // every array starts 8-byte aligned
    pieces.push({ entry: { particle, name, dtype, offset, length: values.length }, data });
    offset += values.length * size;
  };
  const small: WeightDtype = storage === 'float16' ? 'float16' : 'float32';
  states.forEach((s, k) => {
    if (algorithm === 'mswag') {
      // Prediction samples weights from the moments: the particle's own weights are not needed.
      if (!s.swag || s.swag.count === 0) throw new PushInputError(`checkpoint: particle ${k} of this MultiSWAG posterior has no SWAG moments: train it further (its SWAG epochs collect them)`);
      add(k, 'swagMean', s.swag.mean, 'float64');
      add(k, 'swagSqMean', s.swag.sqMean, 'float64');
      add(k, 'swagDeviations', s.swag.deviations, small);
      return;
    }
    add(k, 'params', s.params, small);
    if (s.prior) add(k, 'prior', s.prior, small);
  });
  const bytes = new Uint8Array(Math.ceil(offset / 8) * 8);
  for (const p of pieces) bytes.set(p.data, p.entry.offset);
  return { bytes, tensors: pieces.map((p) => p.entry) };
}
