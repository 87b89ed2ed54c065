// bench/kernel-profile: where one particle-step's time goes, kernel by kernel.
// Group steps of the seed network (BiggerNN(10,20)), the MLP 784-256-256-10 or
// LeNet-5 on one device (wasm, this thread), batch 128, Adam: CPU ms per
// particle-step, then tf.profile of one epoch: kernels per particle-step and
// each kernel's (name and input shapes) ms per particle-step and share.
// tf.profile waits for every kernel, so its times add up to more than the
// unprofiled step; the shares are what to read. Kernels the bias-folded dense
// pass runs outside the engine (src/nn/kernel-runner.ts) are counted but not
// listed: tf.profile does not see them.
// With --cpu-only: no tf.profile, 20 timed epochs, for a CPU profile of the
// steps alone (node --cpu-prof dist/bench/kernel-profile.js seed 8 --cpu-only).
// Run: npm run build && node dist/bench/kernel-profile.js seed|mlp|lenet [particles=8|1|2] [--cpu-only]
import { tf, useBackend } from '../src/util/tf';
import { Rng } from '../src/util/rng';
import { Batch, ParticleGroup, biggerNN, compileModel, dense, lenet } from '../src/nn';
import { outsideEngine } from '../src/nn/kernel-runner';

const B = 128;

export async function kernelProfile(model: 'seed' | 'mlp' | 'lenet', P: number, cpuOnly = false, examples = 1280): Promise<void> {
  await useBackend('wasm');
  const spec = model === 'mlp' ? dense([784, 256, 256, 10]) : model === 'lenet' ? lenet() : biggerNN(10, 20);
  const shape = model === 'mlp' ? [784] : model === 'lenet' ? [28, 28, 1] : [20];
  const features = shape.reduce((a, b) => a * b, 1);
  const classes = model !== 'seed';
  const rng = new Rng(1);
  const net = compileModel(spec);
  const x = tf.tensor(rng.fillNormal(new Float32Array(examples * features)), [examples, ...shape]);
  const y = classes ? tf.tensor(Float32Array.from({ length: examples }, (_, i) => i % 10), [examples]) : tf.tensor(rng.fillNormal(new Float32Array(examples)), [examples, 1]);
  const batches: Batch[] = Array.from({ length: examples / B }, (_, i) => ({
    x: tf.slice(x, [i * B, ...shape.map(() => 0)], [B, ...shape]),
    y: classes ? tf.slice(y, [i * B], [B]) : tf.slice(y, [i * B, 0], [B, 1]),
  }));
  const group = new ParticleGroup(net, { optimizer: { type: 'adam', lr: 0.01 }, seed: 1 });
  for (let p = 0; p < P; p++) group.add();
  const rows = Array.from({ length: P }, (_, i) => i);
  const epoch = () => batches.forEach((b) => group.step(rows, b, classes ? 'cross-entropy' : 'mse'));
  for (let i = 0; i < 3; i++) epoch(); // JIT and wasm tier-up
  const steps = batches.length * P;
  let cpuMs = Infinity;
  for (let i = 0; i < (cpuOnly ? 20 : 5); i++) {
    const t = process.cpuUsage();
    epoch();
    const u = process.cpuUsage(t);
    cpuMs = Math.min(cpuMs, (u.user + u.system) / 1e3);
  }
  if (cpuOnly) {
    console.log(`${model}, ${P} particle(s), wasm, one device: ${(cpuMs / steps).toFixed(3)} CPU ms per particle-step (best of 20 epochs)`);
    tf.dispose([x, y, ...batches.flatMap((b) => [b.x, b.y])]);
    group.dispose();
    net.dispose();
    return;
  }
  const outside = outsideEngine.kernels;
  const prof = await tf.profile(() => {
    epoch();
  });
  const outsidePerStep = (outsideEngine.kernels - outside) / steps; // the folded dense pass's kernels, unseen by tf.profile
  const kernels = prof.kernels.filter((k) => !k.name.endsWith('__op')); // op-level entries repeat their kernel's time
  const ms = (k: (typeof kernels)[number]) => (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0);
  const total = kernels.reduce((s, k) => s + ms(k), 0);
  const byKernel = new Map<string, { n: number; ms: number }>();
  for (const k of kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = byKernel.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += ms(k);
    byKernel.set(key, e);
  }
  console.log(`${model}, ${P} particle(s), wasm, one device: ${(cpuMs / steps).toFixed(3)} CPU ms per particle-step (best of 5 epochs), ${(kernels.length / steps + outsidePerStep).toFixed(1)} kernels per particle-step${outsidePerStep ? ` (${outsidePerStep.toFixed(1)} of them run outside the engine, not listed below)` : ''}`);
  console.log('  ms/step  share  calls/step  kernel [input shapes]  (tf.profile)');
  for (const [key, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
    console.log(`  ${(e.ms / steps).toFixed(3).padStart(7)}  ${((100 * e.ms) / total).toFixed(1).padStart(4)}%  ${(e.n / steps).toFixed(1).padStart(10)}  ${key}`);
  }
  tf.dispose([x, y, ...batches.flatMap((b) => [b.x, b.y])]);
  group.dispose();
  net.dispose();
}

if (require.main === module) {
  const model = (process.argv[2] ?? 'seed') as 'seed' | 'mlp' | 'lenet';
  if (!['seed', 'mlp', 'lenet'].includes(model)) throw new Error(`model ${JSON.stringify(model)}: expected seed, mlp or lenet`);
  const count = process.argv[3] && !process.argv[3].startsWith('--') ? process.argv[3] : undefined;
  const P = Number(count ?? (model === 'seed' ? 8 : model === 'mlp' ? 1 : 2));
  kernelProfile(model, P, process.argv.includes('--cpu-only')).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
