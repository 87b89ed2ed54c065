// Speed check of src/nn on the seed workload, in-process: BiggerNN(10, 20),
// 1280 inputs x ~ N(0, I), y ~ N(0, 1), batch 128, 10 epochs (100 steps),
// Adam lr 0.01, MSE; P = 1 and P = 8 particles in one ParticleGroup.
// Prints one JSON line per configuration with ms per particle-step.
//
// Usage: node dist/bench/nn-seed.js [backend=wasm] [batchedMatmul=auto|true|false]
import { tf, useBackend, parseBackend } from '../src/util/tf';
import { Rng } from '../src/util/rng';
import { ParticleGroup, biggerNN, compileModel } from '../src/nn';

const L = 10;
const D = 20;
const N = 1280;
const B = 128;
const EPOCHS = 10;

/** Warms the JIT and kernel caches on a throwaway group (~200 particle-steps), so timing starts hot. */
function warmUp(network: ReturnType<typeof compileModel>, batchedMatmul: boolean | 'auto', xs: Float32Array, ys: Float32Array, P: number): void {
  const warm = new ParticleGroup(network, { optimizer: { type: 'adam', lr: 0.01 }, seed: 7, batchedMatmul });
  for (let p = 0; p < P; p++) warm.add();
  const rows = Array.from({ length: P }, (_, p) => p);
  const x0 = tf.tensor2d(xs.subarray(0, B * D), [B, D]);
  const y0 = tf.tensor2d(ys.subarray(0, B), [B, 1]);
  for (let i = 0; i < Math.ceil(200 / P); i++) warm.step(rows, { x: x0, y: y0 }, 'mse');
  tf.dispose([x0, y0]);
}

async function main(): Promise<void> {
  const backend = parseBackend(process.argv[2] ?? 'wasm');
  const batchedArg = process.argv[3] ?? 'auto';
  const batchedMatmul = batchedArg === 'auto' ? 'auto' : batchedArg === 'true';
  await useBackend(backend);
  const rng = new Rng(1);
  const xs = rng.fillNormal(new Float32Array(N * D));
  const ys = rng.fillNormal(new Float32Array(N));
  const network = compileModel(biggerNN(L, D));

  for (const P of [1, 8]) {
    const group = new ParticleGroup(network, { optimizer: { type: 'adam', lr: 0.01 }, seed: 42, batchedMatmul });
    for (let p = 0; p < P; p++) group.add();
    const rows = Array.from({ length: P }, (_, p) => p);
    const xb = new Float32Array(B * D);
    const yb = new Float32Array(B);
    const runEpoch = (): number => {
      const perm = rng.permutation(N);
      let last = 0;
      for (let start = 0; start < N; start += B) {
        for (let i = 0; i < B; i++) {
          const j = perm[start + i];
          xb.set(xs.subarray(j * D, (j + 1) * D), i * D);
          yb[i] = ys[j];
        }
        const x = tf.tensor2d(xb, [B, D]);
        const y = tf.tensor2d(yb, [B, 1]);
        const losses = group.step(rows, { x, y }, 'mse');
        last = losses[0];
        x.dispose();
        y.dispose();
      }
      return last;
    };
    warmUp(network, batchedMatmul, xs, ys, P);

    const tensorsBefore = tf.memory().numTensors;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let loss = 0;
    for (let e = 0; e < EPOCHS; e++) loss = runEpoch();
    const ms = performance.now() - t0;
    // CPU time of this process: steadier than wall time on a shared, busy machine.
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const steps = EPOCHS * (N / B);
    console.log(
      JSON.stringify({
        bench: 'nn-seed',
        backend,
        batchedMatmul: group.usesBatchedMatmul(),
        particles: P,
        train_ms: +ms.toFixed(1),
        ms_per_particle_step: +(ms / (steps * P)).toFixed(3),
        cpu_ms_per_particle_step: +(cpuMs / (steps * P)).toFixed(3),
        final_loss: +loss.toFixed(4),
        leaked_tensors: tf.memory().numTensors - tensorsBefore,
      }),
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
