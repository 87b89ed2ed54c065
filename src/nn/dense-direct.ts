// The explicit dense pass of ONE particle for wider ReLU/linear dense stacks
// (layers larger than the bias-folded pass takes, e.g. MLP 784-256-256-10) on
// the per-particle loop (wasm, cpu), with its kernels run outside the engine
// (kernel-runner.ts: no kernel lookup, scopes or tidy per kernel). Per dense layer:
//   forward   1 matMul with bias and ReLU fused; the first layer transposed,
//             [W; b]^T @ [x, 1]^T, so XNNPACK packs the batch's [x, 1]^T once
//             for the whole group instead of each particle's W;
//   backward  the ReLU gradient and the bias gradient in ONE host pass over d
//             (host-kernels.ts: d * (y > 0) and its sums, written straight
//             into the gradient row: no ones-row matMul);
//             h^T @ dz gives dW, read in place from wasm's heap ([x, 1]^T @ dz1
//             gives [dW; db] at the first layer);
//             the input gradient as W @ dz^T (transposed, when the layer below
//             is dense: see the backward loop) or dz @ W^T.
// Transposes are the runner's (a SIMD kernel on wasm). mse and cross-entropy
// are computed on the host. Gradients equal autodiff's to float rounding (the
// bias gradient is summed in float64 or inside the matMul).
import { tf } from '../util/tf';
import type { Network } from './network-api';
import { backendAliasesUploads } from './shapes';
import { DenseStep, RowLossAndGrad, lossOnBackend, reluDenseStack, withOnesColumn, withRunner } from './dense-stack';
import { Info, Runner, kernelRunner } from './kernel-runner';
import { FOLDED_MAX_LAYER } from './dense-folded';
import { crossEntropyOnHost, mseOnHost } from './host-losses';

/** Switch for A/B benchmarks (bench/dense-floor.ts); always on otherwise. */
export const directPassSwitch = { enabled: true, transposedInputGrad: true, sharedInputOnRight: true };

/** Whether this pass applies: ReLU/linear dense layers with a bias, larger than the folded pass takes, no dropout while training. */
export function directSupported(network: Network, training: boolean): boolean {
  if (!directPassSwitch.enabled) return false;
  let large = false;
  const ok = reluDenseStack(network, training, (s) => {
    const w = network.layout[s.param];
    const b = network.layout[s.param + 1];
    if (s.inSize * s.outSize > FOLDED_MAX_LAYER) large = true;
    return w.kind === 'weight' && b?.kind === 'bias' && b.layer === w.layer;
  });
  return ok && large;
}

/** A batch for this pass, shared by every particle that trains on it. */
export interface DirectBatch {
  /** [1, B, in]. */
  x: tf.Tensor;
  /**
   * [x, 1]^T, [1, in+1, B]: the input with a ones column, transposed. The first layer's forward
   * pass takes it as the right-hand operand (see directPass), and its rows 0..in-1 are the x^T
   * of the first weight gradient: [x, 1]^T @ dz = [dW; db].
   */
  xaT: tf.Tensor;
}

/** Call inside tf.tidy. */
export function directBatch(network: Network, x: tf.Tensor): DirectBatch {
  const { x: x3, xa } = withOnesColumn(network, x);
  const run = kernelRunner();
  try {
    return { x: x3, xaT: run.tensor(run.transpose(xa)) }; // the runner's transpose: SIMD on wasm
  } finally {
    run.dispose();
  }
}

let lossGrad = new Float32Array(0);
/** Scratch for dLoss/dOutput: wasm copies uploads; cpu keeps what it is given, so it gets its own. */
function lossScratch(size: number): Float32Array {
  if (backendAliasesUploads()) return new Float32Array(size);
  if (lossGrad.length !== size) lossGrad = new Float32Array(size);
  return lossGrad;
}

/** The row's values for an upload: a view where the backend copies uploads, else a copy. */
function rowValues(params: Float32Array, offset: number, size: number): Float32Array {
  const view = params.subarray(offset, offset + size);
  return backendAliasesUploads() ? view.slice() : view;
}

/**
 * Loss and gradient of one particle (params = its flat row), gradient written into gradRow
 * (layout order). Returns the loss. Call inside tf.tidy.
 */
export const directLossAndGrad: RowLossAndGrad<DirectBatch> = (...args) => withRunner('fastest', (run) => directPass(run, ...args));

/** The pass with the given kernel runner (tests compare runners through it). */
export function directPass(run: Runner, ...[network, params, batch, target, loss, gradRow, outputOffset]: Parameters<RowLossAndGrad<DirectBatch>>): number {
  const plan = network.plan!;
  const layout = network.layout;
  const firstDense = plan.find((s): s is DenseStep => s.kind === 'dense')!;

  // Forward, keeping each dense layer's input and every step's output.
  const inputs = new Map<DenseStep, Info>();
  const weights = new Map<DenseStep, Info>();
  const outputs: Info[] = [];
  let h: Info = batch.x;
  const transposedOf = new Map<Info, Info>(); // known transposes of layer inputs
  for (const step of plan) {
    if (step.kind === 'dense') {
      const w = layout[step.param];
      const b = layout[step.param + 1];
      const activation = step.activation === 'relu' ? 'relu' : 'linear';
      inputs.set(step, h);
      const weight = run.upload(rowValues(params, w.offset, w.size), [1, step.inSize, step.outSize]);
      weights.set(step, weight);
      if (h === batch.x && b.offset === w.offset + w.size && directPassSwitch.sharedInputOnRight) {
        // The batch's input on the right: h^T = [W; b]^T @ [x, 1]^T. XNNPACK packs the right-hand
        // operand, and tfjs-wasm keeps it packed per tensor, so the group's particles pack the
        // shared [x, 1]^T once per batch instead of each packing its own W (0.4 ms at 784 x 256).
        // [W; b] is contiguous in the row; its transpose is the SIMD kernel's.
        const wbT = run.transpose(run.upload(rowValues(params, w.offset, w.size + b.size), [1, step.inSize + 1, step.outSize]));
        const hT = run.matMul(wbT, batch.xaT, activation);
        h = run.transpose(hT);
        transposedOf.set(h, hT);
      } else {
        const bias = run.upload(rowValues(params, b.offset, b.size), [step.outSize]);
        h = run.matMulBias(h, weight, bias, activation);
      }
    } else if (step.kind === 'activation') {
      h = run.relu(h);
    }
    outputs.push(h);
  }

  let value: number;
  let d: Info;
  if ((loss.name === 'mse' || loss.name === 'cross-entropy') && !outputOffset) {
    // On the host (host-losses.ts): saves the loss's kernels, about 5% of a step.
    const [, rows, k] = h.shape;
    const grad = lossScratch(rows * k);
    const pred = run.values(h);
    const t = target.dataSync() as Float32Array;
    value = loss.name === 'mse' ? mseOnHost(pred, t, grad) : crossEntropyOnHost(pred, t, k, grad);
    d = run.upload(grad, h.shape);
  } else {
    ({ value, d } = lossOnBackend(run, h, target, loss, outputOffset));
  }
  // Between two dense layers the input gradient is taken transposed, dh^T = W @ dz^T: W is
  // already uploaded, and XNNPACK packs dz^T [out, B] instead of W^T [out, in] (0.1 against
  // 0.27 ms at 256 x 256, B = 128). The layer below then runs its ReLU gradient on dh^T against
  // its output transposed, which the layer above computed for its weight gradient.
  let dT: Info | null = null; // the gradient, transposed [1, n, B], when the layer above handed it over so
  let outT: Info | null = null; // then this layer's output transposed
  for (let i = plan.length - 1; i >= 0; i--) {
    const step = plan[i];
    if (step.kind === 'dense') {
      const w = layout[step.param];
      const biasOffset = layout[step.param + 1].offset;
      const relu = step.activation === 'relu';
      let dz: Info;
      let dzT: Info | null = null;
      if (dT) {
        dzT = run.reluGradSum(dT, relu ? outT : null, gradRow, biasOffset, true); // and db
        dz = run.transpose(dzT);
        dT = null;
      } else {
        dz = run.reluGradSum(d, relu ? outputs[i] : null, gradRow, biasOffset); // and db
      }
      const input = inputs.get(step)!;
      if (input === batch.x) {
        // [x, 1]^T @ dz = [dW; db]: db again, summed in the matMul this time; dW only where b is not next in the row.
        const g = run.values(run.matMul(batch.xaT, dz, null));
        gradRow.set(layout[step.param + 1].offset === w.offset + w.size ? g : g.subarray(0, w.size), w.offset);
        break; // the batch's input: nothing below
      }
      const inputT = transposedOf.get(input) ?? run.transpose(input);
      gradRow.set(run.values(run.matMul(inputT, dz, null)), w.offset); // dW
      if (step === firstDense) break; // no input gradient below the first layer
      if (plan[i - 1].kind === 'dense' && directPassSwitch.transposedInputGrad) {
        dT = run.matMul(weights.get(step)!, dzT ?? run.transpose(dz), null);
        outT = inputT;
      } else {
        d = run.matMul(dz, run.transpose(weights.get(step)!), null);
      }
    } else if (step.kind === 'activation') {
      d = run.reluGrad(d, outputs[i]);
    }
  }
  return value;
}
