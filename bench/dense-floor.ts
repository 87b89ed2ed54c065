// bench/dense-floor: one particle-step of the MLP 784-256-256-10 (batch 128,
// Adam, cross-entropy) on one device (wasm, this thread), against the wasm
// floor measured in the same run, with a breakdown of where the step's time
// goes.
//   floor      the step's FLOPs (3 x forward: forward, weight and input
//              gradients, ~206 MFLOP) at the 2-D matMul speed of
//              [128,784] x [784,256] measured here;
//   matmuls    the matMuls one step of the direct pass (src/nn/dense-direct.ts)
//              runs: the first layer [W1; b1]^T @ [x, 1]^T, the others with
//              bias and ReLU fused, h^T @ dz, and W @ dz^T between dense layers (same shapes, inputs ready and already
//              packed by XNNPACK: what the floor measures too);
//   packing    what the same matMuls cost more with fresh right-hand operands
//              (XNNPACK packs each new one; a step's W, dz and dz^T are all new,
//              and at P = 1 so is the batch's [x, 1]^T);
//   upload     host row -> backend tensors (each layer's W and b);
//   transposes [x, 1]^T, [W1; b1]^T, h and h^T, dz and dz^T (the runner's: SIMD
//              on tfjs-wasm's memory);
//   loss       loss value and dLoss/dOutput (on the host, and its upload);
//   relu       the ReLU gradients with the bias gradients (one host pass each);
//   readback   weight gradients -> host row (copies from views of wasm's heap);
//   optimizer  the fused Adam over the particle's row, as a step runs it (the
//              wasm SIMD kernel in place on the group's wasm-memory buffers);
//              for comparison, not part of the step: the JS fallback loop on
//              plain arrays, and the kernel with copies in and out.
// Phases are timed one at a time on ready inputs, interleaved with the whole
// step, minimum over repeats, in this process's CPU time (user + system): on a
// shared machine wall time mostly measures the wait for a core. The wasm
// backend runs on this one thread, so CPU time is the step's cost.
// Run: npm run build && node dist/bench/dense-floor.js [--reps 30]
import { tf, useBackend } from '../src/util/tf';
import { Rng } from '../src/util/rng';
import { ParticleGroup, compileModel, dense, parseLoss } from '../src/nn';
import { directPassSwitch } from '../src/nn/dense-direct';
import { kernelRunner, Runner } from '../src/nn/kernel-runner';
import { crossEntropyOnHost } from '../src/nn/host-losses';
import { allocateHostBuffers, wasmOptimizerAvailable } from '../src/nn/wasm/optim-kernel';

const B = 128;
const SIZES = [784, 256, 256, 10];
const GOAL = 1.25;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** CPU milliseconds (user + system) of this process since `since`. */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

/** Minimum CPU time of fn over `reps` calls, each made `inner` times. */
export function timeMin(fn: () => void, reps: number, inner = 1): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.cpuUsage();
    for (let i = 0; i < inner; i++) fn();
    best = Math.min(best, cpuMsSince(t) / inner);
  }
  return best;
}

export async function runDenseFloor(reps = 30): Promise<Record<string, number>> {
  await useBackend('wasm');
  const rng = new Rng(7);
  const rand = (shape: number[]) => tf.tensor(rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))), shape);
  const net = compileModel(dense(SIZES));
  const group = new ParticleGroup(net, { optimizer: 'adam', seed: 1 });
  group.add();
  const x = rand([B, SIZES[0]]);
  const y = tf.tensor(Float32Array.from({ length: B }, () => rng.int(10)), [B]);
  const loss = parseLoss('cross-entropy');

  // Ready inputs for the phase timings, in the explicit path's rank-3 shapes.
  const layers = SIZES.slice(1).map((out, l) => ({ inp: SIZES[l], out }));
  const h = layers.map((l) => rand([1, B, l.inp]));
  const hT = layers.map((l) => rand([1, l.inp, B]));
  const w = layers.map((l) => rand([1, l.inp, l.out]));
  const bias = layers.map((l) => rand([l.out]));
  const d = layers.map((l) => rand([1, B, l.out]));
  const out = rand([1, B, 10]);
  const target = loss.prepareTarget(y, 10);
  const x2 = rand([B, 784]);
  const w2 = rand([784, 256]);
  // Gradient-sized values (all zeros would drive the moments into subnormals).
  const gradRow = rng.fillNormal(new Float32Array(net.numParams)).map((v) => 1e-3 * v);
  const rowUpdate = [{ row: 0, lr: 1e-3, step: 1 }];
  // Plain copies of the row take the JS loop; `scratch` is a kernel memory that a
  // copy-in/copy-out design would use (kept to show why the group updates in place).
  const slotsCopy = group.slots.map((s) => s.slice());
  const paramsCopy = group.params.slice();
  const scratch = allocateHostBuffers(4, net.numParams);

  const fwdFlops = 2 * B * layers.reduce((s, l) => s + l.inp * l.out, 0);
  const dT = layers.map((l) => rand([1, l.out, B]));
  // The first layer runs transposed: [W1; b1]^T @ [x, 1]^T, and [x, 1]^T @ dz1 = [dW1; db1].
  const wbT = rand([1, SIZES[1], SIZES[0] + 1]);
  const xaT = rand([1, SIZES[0] + 1, B]);
  const xa = rand([1, B, SIZES[0] + 1]);
  const wb = rand([1, SIZES[0] + 1, SIZES[1]]);
  // Host copies of every right-hand operand, to upload fresh ones.
  const host = (ts: tf.Tensor[]) => ts.map((t) => ({ values: t.dataSync() as Float32Array, shape: t.shape }));
  const [wHost, dHost, dTHost, xaTHost] = [host(w), host(d), host(dT), host([xaT])];
  /** Runs fn with a kernel runner (no engine: as the direct pass) and frees what it made. */
  const withRunner = (fn: (run: Runner) => void) => {
    const run = kernelRunner();
    try {
      fn(run);
    } finally {
      run.dispose();
    }
  };
  const chain = (fresh: boolean) =>
    withRunner((run) => {
      const op = (ready: tf.Tensor[], hostCopy: { values: Float32Array; shape: number[] }[], l: number) => (fresh ? run.upload(hostCopy[l].values, hostCopy[l].shape) : ready[l]);
      layers.forEach((_, l) => {
        // The shared [x, 1]^T is packed once per batch: at P = 1, once per step (the fresh case).
        if (l === 0) run.matMul(wbT, op([xaT], xaTHost, 0), 'relu');
        else run.matMulBias(h[l], op(w, wHost, l), bias[l], l < 2 ? 'relu' : 'linear');
        run.matMul(l === 0 ? xaT : hT[l], op(d, dHost, l), null);
        if (l > 0) run.matMul(w[l], op(dT, dTHost, l), null);
      });
    });
  const freshUploads = () =>
    withRunner((run) => layers.forEach((_, l) => [l === 0 ? xaTHost[0] : wHost[l], dHost[l], dTHost[l]].forEach((o) => run.upload(o.values, o.shape))));
  const row = group.row(0).params;
  const lossGrad = new Float32Array(B * 10);
  const targetValues = target.dataSync() as Float32Array;
  const outValues = out.dataSync() as Float32Array;
  const phases: Record<string, () => void> = {
    step: () => group.step([0], { x, y }, loss),
    stepGeneral: () => {
      directPassSwitch.enabled = false; // the general explicit pass (dense-backward.ts), for comparison
      try {
        group.step([0], { x, y }, loss);
      } finally {
        directPassSwitch.enabled = true;
      }
    },
    floorMatmul: () => tf.dispose(tf.matMul(x2, w2)),
    matmuls: () => chain(false),
    matmulsFresh: () => chain(true),
    freshUploads,
    upload: () =>
      withRunner((run) =>
        net.layout.forEach((e, i) => run.upload(row.subarray(e.offset, e.offset + e.size), e.kind === 'bias' ? e.shape : [1, ...net.layout[i].shape])),
      ),
    // [x, 1] (once per batch), [W1; b1], h1^T, h2, dz3, dz2^T, dz1^T
    transposes: () => withRunner((run) => [xa, wb, hT[1], h[2], d[2], dT[1], dT[0]].forEach((t) => run.transpose(t))),
    loss: () =>
      withRunner((run) => {
        crossEntropyOnHost(outValues, targetValues, 10, lossGrad);
        run.upload(lossGrad, [1, B, 10]);
      }),
    relu: () => withRunner((run) => [0, 1].forEach((l) => run.reluGradSum(d[l], h[l + 1], gradRow, 0))),
    readback: () => withRunner((run) => layers.forEach((_, i) => gradRow.set(run.values(w[i]), net.layout[2 * i].offset))), // a dW-sized view each
    optimizer: () => group.updateWithGrads([0]),
    optimizerJs: () => group.optimizer.update(paramsCopy, gradRow, slotsCopy, rowUpdate, net.numParams),
    optimizerCopy: () => {
      [paramsCopy, gradRow, ...slotsCopy].forEach((a, i) => scratch[i].set(a));
      group.optimizer.update(scratch[0], scratch[1], scratch.slice(2), rowUpdate, net.numParams);
      [paramsCopy, ...slotsCopy].forEach((a, i) => a.set(scratch[i === 0 ? 0 : i + 1]));
    },
  };

  for (const fn of Object.values(phases)) for (let i = 0; i < 5; i++) fn(); // warm-up
  const best: Record<string, number> = {};
  const rounds = Math.max(1, Math.round(reps / 5));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(phases)) best[name] = Math.min(best[name] ?? Infinity, timeMin(fn, 5));
  }
  const numTensors = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) phases.step();
  if (tf.memory().numTensors !== numTensors) throw new Error(`group.step leaked ${tf.memory().numTensors - numTensors} tensors`);

  const gflops = (2 * B * 784 * 256) / (best.floorMatmul * 1e6);
  const floorMs = (3 * fwdFlops) / (gflops * 1e6);
  const result = {
    floor_gflops: gflops,
    step_mflop: (3 * fwdFlops) / 1e6,
    floor_ms: floorMs,
    ours_ms: best.step,
    ratio: best.step / floorMs,
    general_ms: best.stepGeneral,
    matmuls_ms: best.matmuls,
    packing_ms: Math.max(0, best.matmulsFresh - best.matmuls - best.freshUploads),
    upload_ms: best.upload,
    transposes_ms: best.transposes,
    loss_ms: best.loss,
    relu_ms: best.relu,
    readback_ms: best.readback,
    optimizer_ms: best.optimizer,
    optimizer_js_ms: best.optimizerJs,
    optimizer_copy_ms: best.optimizerCopy,
  };
  const parts = result.matmuls_ms + result.packing_ms + result.upload_ms + result.transposes_ms + result.loss_ms + result.relu_ms + result.readback_ms + result.optimizer_ms;
  const line = (k: string, v: number, note = '') => console.log(`${k.padEnd(14)} ${v.toFixed(3).padStart(8)} ms ${((100 * v) / best.step).toFixed(0).padStart(4)}%  ${note}`);
  console.log(`MLP ${SIZES.join('-')}, batch ${B}, Adam, one particle-step on wasm (CPU time, min of ${rounds} rounds of 5)`);
  console.log(`floor: ${result.step_mflop.toFixed(0)} MFLOP at ${gflops.toFixed(1)} GFLOPS ([${B},784]x[784,256] 2-D matMul) = ${floorMs.toFixed(3)} ms`);
  console.log(`ours:  ${best.step.toFixed(3)} ms per particle-step; ratio ${result.ratio.toFixed(2)}x the floor (goal <= ${GOAL})`);
  console.log(`       the general explicit pass (dense-backward.ts) in the same run: ${best.stepGeneral.toFixed(3)} ms, ${(best.stepGeneral / floorMs).toFixed(2)}x`);
  console.log('breakdown (each phase timed alone; % of our step):');
  line('matmuls', result.matmuls_ms, 'forward (first layer transposed), weight and input (W dz^T) gradients');
  line('packing', result.packing_ms, 'XNNPACK packing fresh right-hand operands ([x,1]^T, W, dz, dz^T)');
  line('upload', result.upload_ms, 'params host -> wasm (W and b)');
  line('transposes', result.transposes_ms, '[x,1]^T, [W1;b1]^T, h, h^T, dz, dz^T (SIMD)');
  line('loss', result.loss_ms, 'cross-entropy and dLoss/dOutput on the host');
  line('relu', result.relu_ms, 'ReLU gradients with the bias gradients (host pass)');
  line('readback', result.readback_ms, 'weight gradients wasm -> host row');
  line('optimizer', result.optimizer_ms, `fused Adam over the row (${wasmOptimizerAvailable() ? 'wasm SIMD, in place' : 'JS loop: no wasm SIMD'})`);
  line('other', best.step - parts, 'kernel calls, allocation, scopes');
  console.log('optimizer variants (not part of the step):');
  line('  JS loop', result.optimizer_js_ms, 'the fallback, on plain arrays');
  line('  copy in/out', result.optimizer_copy_ms, 'wasm kernel on a scratch memory, 4 arrays copied in, 3 out');
  console.log(JSON.stringify(result));
  tf.dispose([x, y, wbT, xaT, xa, wb, ...h, ...hT, ...w, ...bias, ...d, ...dT, out, target, x2, w2]);
  return result;
}

if (require.main === module) {
  runDenseFloor(arg('--reps', 30)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
