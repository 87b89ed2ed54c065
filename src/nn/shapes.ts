// Small shared helpers: input shape checks and how backends treat uploaded arrays.
import { tf } from '../util/tf';
import { PushInputError } from '../util/errors';

/** x as [B, ...shape], reshaping a flat [B, prod(shape)] input. */
export function reshapeInput(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const batch = x.shape[0];
  const perExample = shape.reduce((a, b) => a * b, 1);
  if (x.rank === shape.length + 1 && shape.every((d, i) => x.shape[i + 1] === d)) return x;
  if (x.rank >= 1 && x.size === batch * perExample) return tf.reshape(x, [batch, ...shape]);
  throw new PushInputError(`input shape [${x.shape.join(', ')}]: expected [batch, ${shape.join(', ')}]`);
}

export function checkRowLength(row: Float32Array, n: number, what: string): void {
  if (!(row instanceof Float32Array) || row.length !== n) {
    throw new PushInputError(`${what} has ${row instanceof Float32Array ? row.length : typeof row} values: expected a Float32Array of ${n}`);
  }
}

/**
 * Whether tf.tensor(array) on the current backend may keep a reference to `array` instead
 * of copying it (cpu stores it; tfjs-node uploads lazily). Host rows change under the
 * optimizer, so uploads from them must copy there. wasm copies into its heap at once.
 */
export function backendAliasesUploads(): boolean {
  return tf.getBackend() !== 'wasm';
}
