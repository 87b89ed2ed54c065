// bench/small-net: the seed network (BiggerNN(10,20), batch 128, Adam lr 0.01,
// MSE) on one device (wasm, this thread): ms per particle-step of a group step
// for P = 1..32, and whether packing particles into fewer, larger matMuls pays:
//   first layer  [B,in] x [in,P*out] (one fused matMul for all particles, split
//                after) against P matMuls; its weight and bias gradients as
//                x^T [D_1..D_P] (one concat, two matMuls) against 2P matMuls;
//   hidden layer one block-diagonal [B,P*D] x [P*D,P*D] against P [B,D] x [D,D].
// Each packed variant uploads fresh weights per call, as a training step does
// (XNNPACK packs every new right-hand operand). Times are this process's CPU
// time (user + system), minimum over rounds: on a shared machine wall time
// mostly measures the wait for a core.
// Run: npm run build && node dist/bench/small-net.js [--rounds 10]
import { tf, useBackend } from '../src/util/tf';
import { Rng } from '../src/util/rng';
import { Batch, ParticleGroup, biggerNN, compileModel } from '../src/nn';
import { cpuMsSince } from './dense-floor';

const B = 128;
const D = 20;
const N = 1280;
const PS = [1, 2, 4, 8, 16, 32];

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** Minimum CPU ms of fn over `rounds`. */
function minCpu(fn: () => void, rounds: number): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = process.cpuUsage();
    fn();
    best = Math.min(best, cpuMsSince(t));
  }
  return best;
}

function mm(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel('BatchMatMul', { a, b }, { transposeA: false, transposeB: false }) as tf.Tensor;
}

function fusedRelu(a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel('_FusedMatMul', { a, b, bias }, { transposeA: false, transposeB: false, activation: 'relu' }) as tf.Tensor;
}

/** ms per particle-step of ParticleGroup.step over one epoch (10 batches), for each P. */
function sweep(rounds: number): { P: number; ms: number }[] {
  const rng = new Rng(1);
  const net = compileModel(biggerNN(10, D));
  const x = tf.tensor(rng.fillNormal(new Float32Array(N * D)), [N, D]);
  const y = tf.tensor(rng.fillNormal(new Float32Array(N)), [N, 1]);
  const batches: Batch[] = Array.from({ length: N / B }, (_, i) => ({ x: tf.slice(x, [i * B, 0], [B, D]), y: tf.slice(y, [i * B, 0], [B, 1]) }));
  // Warm-up before the first P: V8 and wasm tier-up (wasm's optimising compile runs
  // in the background and is slow on a loaded machine) would otherwise land on P = 1.
  const warm = new ParticleGroup(net, { optimizer: { type: 'adam', lr: 0.01 }, seed: 1 });
  for (let p = 0; p < 4; p++) warm.add();
  for (let i = 0; i < 30; i++) batches.forEach((b) => warm.step([0, 1, 2, 3], b, 'mse'));
  const out = PS.map((P) => {
    const group = new ParticleGroup(net, { optimizer: { type: 'adam', lr: 0.01 }, seed: 11 });
    for (let p = 0; p < P; p++) group.add();
    const rows = Array.from({ length: P }, (_, i) => i);
    const epoch = () => batches.forEach((b) => group.step(rows, b, 'mse'));
    for (let i = 0; i < 3; i++) epoch(); // warm-up: JIT and wasm tier-up
    return { P, ms: minCpu(epoch, rounds) / (batches.length * P) };
  });
  tf.dispose([x, y, ...batches.flatMap((b) => [b.x, b.y])]);
  return out;
}

/** Per particle, µs: packed against per-particle kernels for the first and a hidden layer. */
function packing(rounds: number): Record<string, number | string>[] {
  const rng = new Rng(2);
  const arr = (n: number) => rng.fillNormal(new Float32Array(n));
  const x = tf.tensor(arr(B * D), [1, B, D]);
  const xT = tf.transpose(x, [0, 2, 1]);
  const ones = tf.ones([1, 1, B]);
  const rows: Record<string, number | string>[] = [];
  const inner = 10;
  // tidy(() => { fn(); }): nothing the variant returns may escape the scope.
  const perParticleUs = (fn: () => void, P: number) => (1000 * minCpu(() => { for (let i = 0; i < inner; i++) tf.tidy(() => { fn(); }); }, rounds)) / (inner * P);
  for (const P of [2, 4, 8, 32]) {
    const w = arr(D * D * P);
    const b = arr(D * P);
    const hs = Array.from({ length: P }, () => tf.tensor(arr(B * D), [1, B, D]));
    const ds = Array.from({ length: P }, () => tf.tensor(arr(B * D), [1, B, D]));
    const hPacked = tf.concat(hs, 2);
    const blockDiag = new Float32Array(P * D * P * D);
    for (let p = 0; p < P; p++) for (let i = 0; i < D; i++) blockDiag.set(w.subarray(p * D * D + i * D, p * D * D + (i + 1) * D), (p * D + i) * P * D + p * D);
    const wOf = (p: number) => tf.tensor(w.subarray(p * D * D, (p + 1) * D * D), [1, D, D]);
    const bOf = (p: number) => tf.tensor(b.subarray(p * D, (p + 1) * D), [D]);
    rows.push({
      P,
      'first fwd packed': perParticleUs(() => tf.split(fusedRelu(x, tf.tensor(w, [1, D, D * P]), tf.tensor(b, [D * P])), P, 2), P),
      'first fwd per particle': perParticleUs(() => hs.forEach((_, p) => fusedRelu(x, wOf(p), bOf(p))), P),
      'first grads packed': perParticleUs(() => {
        const d = tf.concat(ds, 2);
        mm(xT, d).dataSync();
        mm(ones, d).dataSync();
      }, P),
      'first grads per particle': perParticleUs(() => ds.forEach((d) => (mm(xT, d).dataSync(), mm(ones, d).dataSync())), P),
      'hidden fwd block-diag': perParticleUs(() => fusedRelu(hPacked, tf.tensor(blockDiag, [1, P * D, P * D]), tf.tensor(b, [D * P])), P),
      'hidden fwd per particle': perParticleUs(() => hs.forEach((h, p) => fusedRelu(h, wOf(p), bOf(p))), P),
    });
    tf.dispose([...hs, ...ds, hPacked]);
  }
  tf.dispose([x, xT, ones]);
  return rows;
}

export async function runSmallNet(rounds = 10): Promise<void> {
  await useBackend('wasm');
  const before = tf.memory().numTensors;
  console.log(`seed network BiggerNN(10,${D}), batch ${B}, Adam, MSE; one device (wasm, this thread); CPU ms, min of ${rounds} rounds`);
  console.log('P    ms per particle-step (group step, one epoch of 10 batches)');
  for (const { P, ms } of sweep(rounds)) console.log(`${String(P).padEnd(4)} ${ms.toFixed(3)}`);
  console.log('\npacking particles into larger kernels, µs per particle (lower wins):');
  const table = packing(rounds);
  console.table(table.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && k !== 'P' ? Number(v.toFixed(1)) : v]))));
  if (tf.memory().numTensors !== before) throw new Error(`bench leaked ${tf.memory().numTensors - before} tensors`);
}

if (require.main === module) {
  runSmallNet(arg('--rounds', 10)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
