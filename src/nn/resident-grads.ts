// Loss and gradients of R particles whose parameters are the rows of one
// [R, n] backend tensor, with the gradients returned as one [R, n] tensor:
// the device-resident counterpart of ParticleGroup's host paths (nothing is
// uploaded or downloaded but the losses). Per-layer parameters are slices and
// reshapes of the [R, n] tensor. Dense stacks take the explicit backward pass
// (one batched pass on stacked weights, or a loop of 2-D passes); other
// networks take autodiff, one particle at a time.
import { tf } from '../util/tf';
import type { Loss } from './losses';
import type { Network } from './network';
import { DenseParams, denseBatch, denseLossAndGrad } from './dense-backward';

export interface ResidentBatch {
  x: tf.Tensor;
  y: tf.Tensor;
}

export interface ResidentGradRun {
  batches: ResidentBatch | readonly ResidentBatch[];
  loss: Loss;
  training: boolean;
  /** One dropout seed per row. */
  seeds: number[];
  offsets?: tf.Tensor[];
  /** Explicit backward (dense stacks) rather than autodiff. */
  explicit: boolean;
  /** One batched pass over stacked weights rather than a loop of per-row passes (explicit only). */
  batched: boolean;
}

/** Losses (host) and gradients [R, n] (caller disposes) of the rows of params [R, n]. */
export function residentLossAndGrads(network: Network, params: tf.Tensor, run: ResidentGradRun): { losses: Float32Array; grads: tf.Tensor } {
  const R = params.shape[0];
  const losses = new Float32Array(R);
  const perRow = Array.isArray(run.batches);
  const list = run.batches as readonly ResidentBatch[];
  const shared = run.batches as ResidentBatch;
  const k = network.outputSize;
  const grads = tf.tidy(() => {
    if (run.explicit && run.batched && (!perRow || list.every((b) => b.x.shape[0] === list[0].x.shape[0]))) {
      const x = perRow ? denseBatch(network, tf.stack(list.map((b) => b.x)), true) : denseBatch(network, shared.x);
      const target = perRow ? tf.stack(list.map((b) => run.loss.prepareTarget(b.y, k))) : run.loss.prepareTarget(shared.y, k);
      const offset = run.offsets ? tf.stack(run.offsets) : undefined;
      const sink = new GradCollector(network, R);
      losses.set(denseLossAndGrad(network, denseParamsOf(network, params), x, target, run.loss, sink.add, { training: run.training, dropoutSeeds: run.seeds, outputOffset: offset }));
      return sink.flat();
    }
    const sharedX = !perRow && run.explicit ? denseBatch(network, shared.x) : null;
    const sharedTarget = perRow ? null : run.loss.prepareTarget(shared.y, k);
    const rows: tf.Tensor[] = [];
    for (let i = 0; i < R; i++) {
      rows.push(
        tf.tidy(() => {
          const row = tf.slice(params, [i, 0], [1, network.numParams]);
          const batch = perRow ? list[i] : shared;
          const target = sharedTarget ?? run.loss.prepareTarget(batch.y, k);
          const offset = run.offsets?.[i];
          if (run.explicit) {
            const sink = new GradCollector(network, 1);
            const x = sharedX ?? denseBatch(network, batch.x);
            losses[i] = denseLossAndGrad(network, denseParamsOf(network, row), x, target, run.loss, sink.add, { training: run.training, dropoutSeeds: [run.seeds[i]], outputOffset: offset })[0];
            return sink.flat();
          }
          const ps = network.layout.map((e) => tf.reshape(tf.slice(row, [0, e.offset], [1, e.size]), e.shape));
          const dropoutSeed = run.training && network.hasDropout ? run.seeds[i] : 0;
          const { value, grads } = network.valueAndGrads(ps, batch.x, (out) => run.loss.valueOf(offset ? tf.add(out, offset) : out, target) as tf.Scalar, {
            training: run.training,
            dropoutSeed,
          });
          losses[i] = value.dataSync()[0];
          return tf.concat(grads.map((g) => tf.reshape(g, [1, g.size])), 1);
        }),
      );
    }
    return rows.length === 1 ? rows[0] : tf.concat(rows, 0);
  });
  return { losses, grads };
}

/** The explicit path's parameter shapes as slices of params [R, n] (see DenseParams). Call inside tf.tidy. */
export function denseParamsOf(network: Network, params: tf.Tensor, withTransposed = true): DenseParams {
  const R = params.shape[0];
  // One row is sliced as a 1-D tensor: wasm's fused matMul checks the rank its bias data was created with.
  const source = R === 1 ? tf.reshape(params, [params.size]) : params;
  const tensors = network.layout.map((e) => {
    if (R === 1) {
      const flat = tf.slice(source, [e.offset], [e.size]);
      return e.kind === 'bias' ? flat : tf.reshape(flat, [1, ...e.shape]);
    }
    const flat = tf.slice(source, [0, e.offset], [R, e.size]);
    return tf.reshape(flat, e.kind === 'bias' ? [R, 1, ...e.shape] : [R, ...e.shape]);
  });
  const transposed = tensors.map((t, i) => (withTransposed && network.layout[i].kind === 'weight' ? tf.transpose(t, [0, 2, 1]) : undefined));
  return { tensors, transposed };
}

/** Gathers per-layer gradients [R, ...] and lays them out as one [R, n] tensor in layout order. */
class GradCollector {
  private readonly parts = new Map<number, tf.Tensor>();
  constructor(
    private readonly network: Network,
    private readonly rows: number,
  ) {}
  readonly add = (grad: tf.Tensor, offset: number): void => {
    this.parts.set(offset, tf.reshape(grad, [this.rows, grad.size / this.rows]));
  };
  flat(): tf.Tensor {
    const ordered = this.network.layout.map((e) => {
      const g = this.parts.get(e.offset);
      if (!g) throw new Error(`no gradient for the parameters at offset ${e.offset}`);
      return g;
    });
    return ordered.length === 1 ? ordered[0] : tf.concat(ordered, 1);
  }
}
