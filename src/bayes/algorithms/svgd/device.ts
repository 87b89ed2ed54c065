// SVGD on a device: apply the Stein directions the coordinator computed, then
// compute the loss gradients of the next batch without updating.
import { PushInputError } from '../../../util/errors';
import { tf } from '../../../util/tf';
import { ParticleGroup, parseLoss } from '../../../nn';
import type { Particle } from '../../../runtime/particle';
import type { ParticleStore } from '../../../runtime/particle-store';
import { epochBatches, gatherBatch } from '../../../runtime/training-handlers';
import { dataOf, registerDeviceAlgorithm } from '../../device/engine';

registerDeviceAlgorithm('svgd', {});

export interface SvgdRoundArgs {
  pids: number[];
  /** Stein directions of the listed particles, [pids.length, n]: applied as an ascent step with each particle's optimizer. */
  phi?: Float32Array;
  /** After applying phi: one scheduler step (end of an epoch). */
  stepScheduler?: boolean;
  /** Then compute loss gradients on batch `index` of epoch `epoch` (no update). */
  batch?: { key: string; epoch: number; index: number; batchSize: number; batchSeed: number; loss: string };
}

export interface SvgdRoundResult {
  /** [pids.length, n] parameters the gradients were taken at. */
  params?: Float32Array;
  /** [pids.length, n] gradients of the mean minibatch loss. */
  grads?: Float32Array;
  losses?: number[];
  ms: number;
}

/** Local particles grouped by their ParticleGroup: rows and positions in `pids`. */
function byGroup(store: ParticleStore, pids: readonly number[]): { group: ParticleGroup; rows: number[]; at: number[] }[] {
  const out = new Map<ParticleGroup, { group: ParticleGroup; rows: number[]; at: number[] }>();
  pids.forEach((pid, k) => {
    const { group, row } = store.placement(pid);
    let g = out.get(group);
    if (!g) out.set(group, (g = { group, rows: [], at: [] }));
    g.rows.push(row);
    g.at.push(k);
  });
  return [...out.values()];
}

// The batch lists of the current epoch, per device store (SVGD asks for them one batch at a time).
const batchLists = new WeakMap<ParticleStore, { key: string; list: Int32Array[] }>();

/** One SVGD round on a device: apply the previous step's directions, then take gradients on the next batch. */
export async function svgdRound(p: Particle, a: SvgdRoundArgs): Promise<SvgdRoundResult> {
  const t0 = performance.now();
  const store = p.store;
  const n = store.network.numParams;
  const groups = byGroup(store, a.pids);
  if (a.phi) {
    if (a.phi.length !== a.pids.length * n) throw new PushInputError(`phi has ${a.phi.length} values: expected ${a.pids.length} x ${n}`);
    for (const g of groups) {
      const dir = new Float32Array(g.rows.length * n);
      g.at.forEach((k, i) => dir.set(a.phi!.subarray(k * n, (k + 1) * n), i * n));
      g.group.applyUpdate(g.rows, dir, { ascent: true });
    }
    // Host parameters changed outside groupStep: drop any live copies the cache holds.
    for (const pid of a.pids) store.restore(pid, {});
  }
  if (a.stepScheduler) for (const pid of a.pids) store.schedulerStep(pid);
  if (!a.batch) return { ms: performance.now() - t0 };
  const b = a.batch;
  const d = dataOf(p, b.key);
  const listKey = `${b.key}/${b.batchSize}/${b.batchSeed}/${b.epoch}`;
  let lists = batchLists.get(store);
  if (lists?.key !== listKey) batchLists.set(store, (lists = { key: listKey, list: epochBatches(d.xShape[0], b.batchSize, b.batchSeed, b.epoch) }));
  const batch = gatherBatch(d, lists.list[b.index]);
  const params = new Float32Array(a.pids.length * n);
  const grads = new Float32Array(a.pids.length * n);
  const losses = new Array<number>(a.pids.length);
  try {
    for (const g of groups) {
      const l = g.group.computeGrads(g.rows, batch, parseLoss(b.loss));
      g.at.forEach((k, i) => {
        const r = g.group.readRow(g.rows[i]); // resident groups read back here: the SVGD kernel spans devices, on the coordinator
        params.set(r.params, k * n);
        grads.set(r.grads, k * n);
        losses[k] = l[i];
      });
    }
  } finally {
    tf.dispose([batch.x, batch.y]);
  }
  return { params, grads, losses, ms: performance.now() - t0 };
}
