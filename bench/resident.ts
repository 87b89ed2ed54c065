// Resident vs host training, in one process, interleaved: ms per particle-step
// of a ParticleGroup on the seed workload (BiggerNN(10, 20), batch 128, 8
// particles) and the MLP 784-256-256-10 (batch 128, 4 particles), Adam, plus
// the largest parameter difference between the two paths after the same steps.
// Each round times `steps` steps of each path; the minimum over rounds counts.
// Prints one JSON line per workload and a summary table.
//
// Usage: node dist/bench/resident.js [backend=wasm] [rounds=5] [steps=20]
//   backend tensorflow loads @tensorflow/tfjs-node-gpu (GPU) or @tensorflow/tfjs-node.
import { tf, useBackend, parseBackend } from '../src/util/tf';
import { Rng } from '../src/util/rng';
import { ParticleGroup, Network, biggerNN, compileModel, dense } from '../src/nn';

interface Workload {
  name: string;
  network: Network;
  particles: number;
  batch: number;
}

function timeSteps(group: ParticleGroup, x: tf.Tensor, y: tf.Tensor, steps: number): number {
  const rows = Array.from({ length: group.size }, (_, p) => p);
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) group.step(rows, { x, y }, 'mse');
  group.snapshot(0); // the host copy a checkpoint would take: resident work must finish
  return performance.now() - t0;
}

function run(w: Workload, rounds: number, steps: number): Record<string, unknown> {
  const rng = new Rng(1);
  const inSize = w.network.inputShape.reduce((a, b) => a * b, 1);
  const x = tf.tensor2d(rng.fillNormal(new Float32Array(w.batch * inSize)), [w.batch, inSize]);
  const y = tf.tensor2d(rng.fillNormal(new Float32Array(w.batch * w.network.outputSize)), [w.batch, w.network.outputSize]);
  const groups = [false, true].map((resident) => {
    const g = new ParticleGroup(w.network, { optimizer: { type: 'adam', lr: 1e-3 }, seed: 3, resident });
    for (let p = 0; p < w.particles; p++) g.add();
    timeSteps(g, x, y, 2); // warm-up (the same steps on both, so they stay comparable)
    return g;
  });
  const best = [Infinity, Infinity];
  for (let r = 0; r < rounds; r++) groups.forEach((g, i) => (best[i] = Math.min(best[i], timeSteps(g, x, y, steps))));
  let diff = 0;
  for (let p = 0; p < w.particles; p++) {
    const [a, b] = groups.map((g) => g.snapshot(p).params);
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  const perStep = best.map((ms) => ms / (steps * w.particles));
  const tensorsBefore = tf.memory().numTensors;
  groups.forEach((g) => g.dispose());
  tf.dispose([x, y]);
  return {
    workload: w.name,
    backend: tf.getBackend(),
    particles: w.particles,
    hostMsPerParticleStep: +perStep[0].toFixed(3),
    residentMsPerParticleStep: +perStep[1].toFixed(3),
    residentOverHost: +(perStep[1] / perStep[0]).toFixed(3),
    maxParamDiff: diff,
    steps: 2 + rounds * steps,
    freedTensors: tensorsBefore - tf.memory().numTensors,
  };
}

async function main(): Promise<void> {
  const backend = parseBackend(process.argv[2] ?? 'wasm');
  const rounds = Number(process.argv[3] ?? 5);
  const steps = Number(process.argv[4] ?? 20);
  await useBackend(backend, { gpu: true });
  const workloads: Workload[] = [
    { name: 'seed BiggerNN(10,20)', network: compileModel(biggerNN(10, 20)), particles: 8, batch: 128 },
    { name: 'MLP 784-256-256-10', network: compileModel(dense([784, 256, 256, 10])), particles: 4, batch: 128 },
  ];
  const results = workloads.map((w) => run(w, rounds, steps));
  for (const r of results) console.log(JSON.stringify(r));
  console.log('\n| workload | backend | host ms/particle-step | resident ms/particle-step | resident/host | max param diff |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.workload} | ${r.backend} | ${r.hostMsPerParticleStep} | ${r.residentMsPerParticleStep} | ${r.residentOverHost} | ${(r.maxParamDiff as number).toExponential(2)} |`);
  }
  const worst = Math.max(...results.map((r) => r.maxParamDiff as number));
  if (!(worst < 1e-4)) {
    console.error(`resident and host paths differ by ${worst} (expected < 1e-4 after ${results[0].steps} steps)`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
