// Seed streams of the algorithms. Everything random in a run derives from the
// base seed (batch orders) or a particle's own seed (initial weights, dropout
// masks, bootstrap resample, random prior, prediction-time samples), so a run
// is reproducible and independent of how particles are spread over devices.
import { deriveSeed } from '../util/rng';

const BATCH_STREAM = 0x62617463; // "batc"
const PRIOR_STREAM = 0x7072696f; // "prio"
const BOOTSTRAP_STREAM = 0x626f6f74; // "boot"
const SAMPLE_STREAM = 0x736d706c; // "smpl"

/** Seed of the batch order: epoch e's permutation is drawn from deriveSeed(batchSeed, e). */
export const batchOrderSeed = (baseSeed: number) => deriveSeed(baseSeed, BATCH_STREAM);
/** Seed of a particle's frozen random-prior network. */
export const priorSeed = (particleSeed: number) => deriveSeed(particleSeed, PRIOR_STREAM);
/** Seed of a particle's bootstrap resample. */
export const bootstrapSeed = (particleSeed: number) => deriveSeed(particleSeed, BOOTSTRAP_STREAM);
/** Seed of a particle's prediction-time samples (SWAG weights, MC dropout masks). */
export const sampleSeed = (particleSeed: number) => deriveSeed(particleSeed, SAMPLE_STREAM);
