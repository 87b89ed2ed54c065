// The explicit dense pass of ONE particle with each bias folded into its weight
// matrix, for stacks of dense layers with ReLU or no activation (the seed
// network, BiggerNN, small ReLU MLPs) on the per-particle loop (wasm, cpu).
//
// Every layer input carries a ones column: h_a = [h, 1], [B, in+1]. A hidden
// layer multiplies by W_a = [[W, 0], [b, 1]] ([in+1, out+1]), so its output
// carries the ones column on to the next layer (ReLU keeps 1 as 1); the last
// dense layer's W_a = [W; b] ([in+1, out]). Then per dense layer:
//   forward   1 matMul (ReLU fused), no bias kernel and no bias upload;
//   backward  h_a^T (1 transpose) @ dz gives [dW; db] in ONE matMul, [in+1, out],
//             which is exactly the layout's contiguous weight-then-bias block;
//             dz @ W^T (W^T uploaded from the host) gives the input gradient;
//             the ReLU gradient is one kernel (host-kernels.ts).
// On the seed network this is 92 kernels per particle-step instead of 127
// (an MSE loss is computed on the host).
// Gradients equal autodiff's to float rounding (the bias is summed inside the
// matMul instead of after it).
import { tf } from '../util/tf';
import type { Network } from './network-api';
import { backendAliasesUploads } from './shapes';
import { DenseStep, RowLossAndGrad, lossOnBackend, reluDenseStack, withOnesColumn, withRunner } from './dense-stack';
import { Info, Runner } from './kernel-runner';
import { mseOnHost } from './host-losses';

/**
 * The largest dense layer (inputs x outputs) the folded pass takes. It pays where per-kernel
 * overhead dominates. Group steps on wasm, P = 4, this pass against the general one interleaved
 * in one process (December 2026, loaded machine): the seed network (21 layers of 20 x 20) 0.6x
 * the CPU time, dense([32, 64, 64, 4]) 0.95x, but dense([64, 128, 128, 10]) 1.07x and
 * dense([784, 256, 256, 10]) 1.0-1.05x: the carry column makes 64 or 128 outputs 65 or 129,
 * one more of XNNPACK's 8-wide column tiles, while 20 outputs stay within 3 tiles.
 */
export const FOLDED_MAX_LAYER = 64 * 64;

/** Whether the folded pass applies: small ReLU/linear dense layers (no dropout while training), weight and bias adjacent in the layout. */
export function foldedSupported(network: Network, training: boolean): boolean {
  return reluDenseStack(network, training, (s) => {
    const w = network.layout[s.param];
    const b = network.layout[s.param + 1];
    return s.inSize * s.outSize <= FOLDED_MAX_LAYER && b.kind === 'bias' && b.offset === w.offset + w.size;
  });
}

/** A batch in the folded layout, shared by every particle that trains on it. */
export interface FoldedBatch {
  /** [1, B, in+1]: the input with a ones column. */
  xa: tf.Tensor;
  /** xa^T, [1, in+1, B]. */
  xaT: tf.Tensor;
}

/** Call inside tf.tidy. */
export function foldedBatch(network: Network, x: tf.Tensor): FoldedBatch {
  const { xa } = withOnesColumn(network, x);
  return { xa, xaT: tf.transpose(xa, [0, 2, 1]) };
}

/** Host scratch for the W_a and W^T uploads, per network (wasm copies uploads, so it is reused). */
const scratch = new WeakMap<Network, Float32Array[]>();

function scratchBuffer(network: Network, slot: number, size: number): Float32Array {
  if (backendAliasesUploads()) return new Float32Array(size); // cpu keeps a reference to what it is given
  let bufs = scratch.get(network);
  if (!bufs) scratch.set(network, (bufs = []));
  if (bufs[slot]?.length !== size) bufs[slot] = new Float32Array(size);
  return bufs[slot];
}

/** W_a of a layer from the particle's row: [[W, 0], [b, 1]] when `carry`, else [W; b]. */
function foldedWeights(buf: Float32Array, params: Float32Array, offset: number, nIn: number, nOut: number, carry: boolean): void {
  if (!carry) {
    buf.set(params.subarray(offset, offset + (nIn + 1) * nOut)); // [W; b] is contiguous in the row
    return;
  }
  const cols = nOut + 1;
  for (let i = 0; i <= nIn; i++) {
    const src = offset + i * nOut;
    const dst = i * cols;
    if (nOut >= 64) buf.set(params.subarray(src, src + nOut), dst); // memcpy pays for long rows only
    else for (let j = 0; j < nOut; j++) buf[dst + j] = params[src + j];
    buf[dst + nOut] = i === nIn ? 1 : 0;
  }
}

/** W^T [nOut, nIn] of the weight [nIn, nOut] at `offset`. */
function transposedWeights(buf: Float32Array, params: Float32Array, offset: number, nIn: number, nOut: number): void {
  for (let r = 0; r < nIn; r++) {
    const src = offset + r * nOut;
    for (let c = 0; c < nOut; c++) buf[c * nIn + r] = params[src + c];
  }
}

/**
 * Loss and gradient of one particle (params = its flat row), gradient written into gradRow
 * (layout order). Returns the loss. Call inside tf.tidy.
 */
export const foldedLossAndGrad: RowLossAndGrad<FoldedBatch> = (...args) => withRunner('fastest', (run) => foldedPass(run, ...args));

/** The pass with the given kernel runner (tests compare runners through it). */
export function foldedPass(run: Runner, ...[network, params, batch, target, loss, gradRow, outputOffset]: Parameters<RowLossAndGrad<FoldedBatch>>): number {
  const plan = network.plan!;
  const denseSteps = plan.filter((s): s is DenseStep => s.kind === 'dense');
  const lastDense = denseSteps[denseSteps.length - 1];
  const firstDense = denseSteps[0];

  // Forward, keeping each dense layer's input and every step's output.
  const inputs = new Map<DenseStep, Info>();
  const outputs: Info[] = [];
  let h: Info = batch.xa;
  let slot = 0;
  for (const step of plan) {
    if (step.kind === 'dense') {
      const { inSize: nIn, outSize: nOut } = step;
      const carry = step !== lastDense; // hidden layers pass the ones column on
      const cols = nOut + (carry ? 1 : 0);
      const wa = scratchBuffer(network, slot++, (nIn + 1) * cols);
      foldedWeights(wa, params, network.layout[step.param].offset, nIn, nOut, carry);
      inputs.set(step, h);
      h = run.matMul(h, run.upload(wa, [1, nIn + 1, cols]), step.activation === 'relu' ? 'relu' : 'linear');
    } else if (step.kind === 'activation') {
      h = run.relu(h);
    }
    outputs.push(h);
  }

  let value: number;
  let d: Info;
  if (loss.name === 'mse' && !outputOffset) {
    // On the host: the output is [1, B, k] with k small; saves the loss's 4 kernels and a tensor.
    const grad = scratchBuffer(network, slot++, h.shape[1] * h.shape[2]);
    value = mseOnHost(run.values(h), target.dataSync() as Float32Array, grad);
    d = run.upload(grad, h.shape);
  } else {
    ({ value, d } = lossOnBackend(run, h, target, loss, outputOffset));
  }
  for (let i = plan.length - 1; i >= 0; i--) {
    const step = plan[i];
    if (step.kind === 'dense') {
      if (step.activation === 'relu') d = run.reluGrad(d, outputs[i]);
      const input = inputs.get(step)!;
      const g = run.matMul(input === batch.xa ? batch.xaT : run.transpose(input), d, null);
      gradRow.set(run.values(g), network.layout[step.param].offset); // [dW; db]
      if (step === firstDense) break; // no input gradient below the first layer
      const { inSize: nIn, outSize: nOut } = step;
      const wT = scratchBuffer(network, slot++, nOut * nIn);
      transposedWeights(wT, params, network.layout[step.param].offset, nIn, nOut);
      d = run.matMul(d, run.upload(wT, [1, nOut, nIn]), null);
    } else if (step.kind === 'activation') {
      d = run.reluGrad(d, outputs[i]);
    }
  }
  return value;
}
