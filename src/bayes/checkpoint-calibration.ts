// Stores a posterior's calibration in its checkpoint directory: a new
// generation with the same particle files and a manifest that carries the
// `calibration` field, committed atomically under the directory's lock.
import { PushInputError } from '../util/errors';
import { readCheckpointDir, writeCheckpointDir } from './checkpoint-dir';
import { CheckpointLock, acquireCheckpointLock } from './checkpoint-lock';
import type { PosteriorCalibration } from './posterior-uncertainty';

/**
 * Takes dir's lock for a command that reads a checkpoint and then writes it (calibrate), so
 * that no training run can replace the particles in between. Release it when done.
 */
export function lockCheckpoint(dir: string): CheckpointLock {
  return acquireCheckpointLock(dir);
}

/**
 * Rewrites checkpoint `dir` with `calibration` in its manifest (replacing any earlier one).
 * `generation` is the generation the calibration was computed from: a checkpoint that has
 * moved on since is refused rather than given a calibration of other particles.
 */
export function storeCalibration(dir: string, calibration: PosteriorCalibration, generation?: number): void {
  const lock = acquireCheckpointLock(dir);
  try {
    const reader = readCheckpointDir(dir);
    const m = reader.manifest;
    if (generation !== undefined && (m.generation ?? 0) !== generation) {
      throw new PushInputError(`checkpoint ${dir} changed while it was being calibrated (generation ${generation} -> ${m.generation}): run push-ens calibrate again`);
    }
    const { format: _f, formatVersion: _v, pushEnsVersion: _p, createdAt: _c, byteOrder: _b, generation: _g, files, ...rest } = m;
    writeCheckpointDir(dir, { ...rest, calibration }, files.map((f) => ({ name: f.name, data: reader.file(f.name) })));
  } finally {
    lock.release();
  }
}
