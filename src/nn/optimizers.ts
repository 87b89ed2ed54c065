// Optimizers that update a whole particle group in one plain-JS loop over its
// host buffers ([P, n] params, grads and slots), with a learning rate and step
// count per row. tfjs optimizers issue ~10 kernels per weight tensor, which
// dominates small networks; this loop costs ~30 us per 8k-parameter particle
// and gives the same numbers on every backend.
//
// Update rules and defaults are PyTorch's (torch.optim, single-tensor path):
//   sgd   lr 0.01, momentum 0, dampening 0, nesterov false, weightDecay 0 (L2 added to the grad);
//         the momentum buffer is set to the gradient on the first step.
//   adam  lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0 (L2 added to the grad).
//   adamw lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0.01 (decoupled: p *= 1 - lr*wd).
// Values are rounded to float32 where PyTorch stores them (the moment buffers).
//
// Buffers allocated by allocateHostBuffers (a ParticleGroup's) are updated in
// place by the f32x4 SIMD kernels of wasm/optim.wat, in float32 like PyTorch
// (~5x faster than this loop on large rows). The JS loops below, in double with
// float32 storage, are the fallback: other buffers, or no WebAssembly SIMD.
import { PushInputError, describeValue } from '../util/errors';
import { kernelFor } from './wasm/optim-kernel';

export interface SgdConfig {
  type: 'sgd';
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}
export interface AdamConfig {
  type: 'adam' | 'adamw';
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}
/** A fully resolved optimizer config (every default filled in). */
export type OptimizerConfig = SgdConfig | AdamConfig;
/** What users write: a name, or a config whose omitted fields take PyTorch's defaults. */
export type OptimizerInput = OptimizerConfig['type'] | ({ type: OptimizerConfig['type'] } & Partial<Omit<SgdConfig, 'type'>> & Partial<Omit<AdamConfig, 'type'>>);

export const OPTIMIZER_TYPES: readonly OptimizerConfig['type'][] = ['sgd', 'adam', 'adamw'];

/** One row of a group update: its learning rate and its 1-based step count after this update. */
export interface RowUpdate {
  row: number;
  lr: number;
  step: number;
}

export interface UpdateOptions {
  /** Ascend instead of descend (PyTorch's maximize=True: the gradient is negated first). */
  maximize?: boolean;
}

export interface FusedOptimizer {
  readonly config: OptimizerConfig;
  /** One [P, n] buffer per name, in this order (PyTorch's state names). */
  readonly slotNames: readonly string[];
  /** Updates the listed rows of params (and slots) in place from grads; all arrays laid out [P, n]. */
  update(params: Float32Array, grads: Float32Array, slots: Float32Array[], rows: readonly RowUpdate[], n: number, opts?: UpdateOptions): void;
}

const KEYS: Record<OptimizerConfig['type'], readonly string[]> = {
  sgd: ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay'],
  adam: ['lr', 'betas', 'eps', 'weightDecay'],
  adamw: ['lr', 'betas', 'eps', 'weightDecay'],
};

/** Resolves defaults and checks every field; one-line PushInputError on anything wrong. */
export function parseOptimizerConfig(input: unknown): OptimizerConfig {
  const raw = (typeof input === 'string' ? { type: input } : input) as Record<string, unknown> | null;
  if (raw === null || typeof raw !== 'object') throw new PushInputError(`optimizer ${describeValue(input)}: expected a name (${OPTIMIZER_TYPES.join(', ')}) or {type, ...}`);
  const type = raw.type as OptimizerConfig['type'];
  if (!OPTIMIZER_TYPES.includes(type)) throw new PushInputError(`unknown optimizer ${describeValue(raw.type)}: expected one of ${OPTIMIZER_TYPES.join(', ')}`);
  for (const key of Object.keys(raw)) {
    if (key !== 'type' && !KEYS[type].includes(key)) throw new PushInputError(`optimizer ${type} has unknown option ${JSON.stringify(key)}: expected ${KEYS[type].join(', ')}`);
  }
  const num = (key: string, dflt: number, ok: (v: number) => boolean, expected: string): number => {
    const v = raw[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new PushInputError(`optimizer ${type} ${key} ${describeValue(v)}: expected ${expected}`);
    return v;
  };
  const nonNegative = (v: number) => v >= 0;
  if (type === 'sgd') {
    const momentum = num('momentum', 0, nonNegative, 'a number >= 0');
    const dampening = num('dampening', 0, nonNegative, 'a number >= 0');
    const nesterov = raw.nesterov ?? false;
    if (typeof nesterov !== 'boolean') throw new PushInputError(`optimizer sgd nesterov ${describeValue(nesterov)}: expected true or false`);
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new PushInputError('optimizer sgd nesterov needs momentum > 0 and dampening 0');
    return { type, lr: num('lr', 0.01, nonNegative, 'a number >= 0'), momentum, dampening, nesterov, weightDecay: num('weightDecay', 0, nonNegative, 'a number >= 0') };
  }
  const betas = raw.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)) {
    throw new PushInputError(`optimizer ${type} betas ${describeValue(betas)}: expected [beta1, beta2] with each in [0, 1)`);
  }
  return {
    type,
    lr: num('lr', 1e-3, nonNegative, 'a number >= 0'),
    betas: [betas[0], betas[1]],
    eps: num('eps', 1e-8, nonNegative, 'a number >= 0'),
    weightDecay: num('weightDecay', type === 'adamw' ? 0.01 : 0, nonNegative, 'a number >= 0'),
  };
}

export function createOptimizer(input: OptimizerInput | OptimizerConfig): FusedOptimizer {
  const config = parseOptimizerConfig(input);
  return config.type === 'sgd' ? sgd(config) : adam(config);
}

function checkBuffers(params: Float32Array, grads: Float32Array, slots: Float32Array[], expected: number, rows: readonly RowUpdate[], n: number): void {
  if (slots.length !== expected) throw new Error(`optimizer expects ${expected} slot buffers, got ${slots.length}`);
  for (const r of rows) {
    const end = (r.row + 1) * n;
    if (r.row < 0 || end > params.length || end > grads.length || slots.some((s) => end > s.length)) {
      throw new Error(`optimizer row ${r.row} is outside the buffers (n=${n})`);
    }
    if (!(r.step >= 1)) throw new Error(`optimizer row ${r.row} step ${r.step}: expected the 1-based step count after this update`);
  }
}

function sgd(config: SgdConfig): FusedOptimizer {
  const { momentum, dampening, nesterov, weightDecay } = config;
  const slotNames = momentum !== 0 ? ['momentum_buffer'] : [];
  return {
    config,
    slotNames,
    update(params, grads, slots, rows, n, opts = {}) {
      checkBuffers(params, grads, slots, slotNames.length, rows, n);
      const sign = opts.maximize ? -1 : 1;
      const buf = slots[0];
      const kernel = kernelFor([params, grads, ...slots]);
      if (kernel) {
        const damp = 1 - dampening;
        for (const { row, lr, step } of rows) {
          const at = (a: Float32Array) => a.byteOffset + row * n * 4;
          kernel.sgd(at(params), at(grads), buf ? at(buf) : 0, n, -lr, weightDecay, momentum, damp, sign, step === 1 ? 1 : 0, nesterov ? 1 : 0);
        }
        return;
      }
      for (const { row, lr, step } of rows) {
        const start = row * n;
        const end = start + n;
        const first = step === 1;
        for (let i = start; i < end; i++) {
          const p = params[i];
          let g = sign * grads[i];
          if (weightDecay !== 0) g = Math.fround(g + weightDecay * p);
          if (momentum !== 0) {
            const b = first ? g : Math.fround(momentum * buf[i] + (1 - dampening) * g);
            buf[i] = b;
            g = nesterov ? g + momentum * b : b;
          }
          params[i] = p - lr * g;
        }
      }
    },
  };
}

function adam(config: AdamConfig): FusedOptimizer {
  const { betas, eps, weightDecay } = config;
  const [beta1, beta2] = betas;
  const decoupled = config.type === 'adamw';
  return {
    config,
    slotNames: ['exp_avg', 'exp_avg_sq'],
    update(params, grads, slots, rows, n, opts = {}) {
      checkBuffers(params, grads, slots, 2, rows, n);
      const sign = opts.maximize ? -1 : 1;
      const [expAvg, expAvgSq] = slots;
      const kernel = kernelFor([params, grads, expAvg, expAvgSq]);
      for (const { row, lr, step } of rows) {
        const stepSize = lr / (1 - beta1 ** step);
        const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
        const decay = decoupled ? 1 - lr * weightDecay : 1;
        const l2 = decoupled ? 0 : weightDecay;
        if (kernel) {
          const at = (a: Float32Array) => a.byteOffset + row * n * 4;
          kernel.adam(at(params), at(grads), at(expAvg), at(expAvgSq), n, 1 - beta1, beta2, 1 - beta2, -stepSize, bc2Sqrt, eps, decay, l2, sign);
          continue;
        }
        const start = row * n;
        const end = start + n;
        for (let i = start; i < end; i++) {
          let p = params[i];
          let g = sign * grads[i];
          if (decoupled) p = Math.fround(p * decay);
          else if (l2 !== 0) g = Math.fround(g + l2 * p);
          // exp_avg.lerp_(g, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2)
          const m = Math.fround(expAvg[i] + (1 - beta1) * (g - expAvg[i]));
          const v = Math.fround(beta2 * expAvgSq[i] + (1 - beta2) * g * g);
          expAvg[i] = m;
          expAvgSq[i] = v;
          params[i] = p - (stepSize * m) / (Math.sqrt(v) / bc2Sqrt + eps);
        }
      }
    },
  };
}
