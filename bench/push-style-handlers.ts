// The Push way, ported to tfjs, as a baseline for bench/train: each particle
// holds one tf.Variable per weight tensor and its own tf.train.adam, and steps
// with the autodiff tape (`optimizer.minimize`), one message per particle-step.
import type { Particle } from '../src/runtime/particle';
import { dataset, epochBatches, gatherBatch } from '../src/runtime/training-handlers';
import { parseLoss } from '../src/nn';
import { tf } from '../src/util/tf';

const particles = new Map<number, { vars: tf.Variable[]; opt: tf.Optimizer }>();

export async function pushStyleInit(p: Particle, lr: number): Promise<void> {
  const tensors = p.store.network.materialize(p.parameters());
  particles.set(p.pid, { vars: tensors.map((t) => tf.variable(t)), opt: tf.train.adam(lr) });
  tf.dispose(tensors);
}

export async function pushStyleStep(p: Particle, a: { key: string; epoch: number; batch: number; batchSize: number; loss: string; seed: number }): Promise<number> {
  const { vars, opt } = particles.get(p.pid)!;
  const d = dataset(a.key);
  const b = gatherBatch(d, epochBatches(d.xShape[0], a.batchSize, a.seed, a.epoch)[a.batch]);
  const loss = parseLoss(a.loss);
  try {
    const value = opt.minimize(() => loss.value(p.store.network.forward(vars, b.x), b.y), true, vars)!;
    const v = value.dataSync()[0];
    value.dispose();
    return v;
  } finally {
    tf.dispose([b.x, b.y]);
  }
}
