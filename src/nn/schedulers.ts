// Learning-rate schedules as pure functions of (base lr, number of
// scheduler.step() calls so far), using PyTorch's closed forms. Being pure, a
// particle's schedule state is one integer that travels with it.
//   step         lr = base * gamma^floor(count / stepSize)                         (StepLR)
//   cosine       lr = etaMin + (base - etaMin) * (1 + cos(pi * count / tMax)) / 2   (CosineAnnealingLR)
//   linear       lr = base * (start + (end - start) * min(count, totalIters) / totalIters)  (LinearLR)
//   exponential  lr = base * gamma^count                                           (ExponentialLR)
import { PushInputError, describeValue } from '../util/errors';

export type SchedulerConfig =
  | { type: 'step'; stepSize: number; gamma: number }
  | { type: 'cosine'; tMax: number; etaMin: number }
  | { type: 'linear'; startFactor: number; endFactor: number; totalIters: number }
  | { type: 'exponential'; gamma: number };

export type SchedulerInput =
  | { type: 'step'; stepSize: number; gamma?: number }
  | { type: 'cosine'; tMax: number; etaMin?: number }
  | { type: 'linear'; startFactor?: number; endFactor?: number; totalIters?: number }
  | { type: 'exponential'; gamma: number };

export const SCHEDULER_TYPES: readonly SchedulerConfig['type'][] = ['step', 'cosine', 'linear', 'exponential'];

/** Learning rate after `count` scheduler steps, starting from `baseLr`. */
export function lrAt(config: SchedulerConfig, baseLr: number, count: number): number {
  switch (config.type) {
    case 'step':
      return baseLr * config.gamma ** Math.floor(count / config.stepSize);
    case 'cosine':
      return config.etaMin + ((baseLr - config.etaMin) * (1 + Math.cos((Math.PI * count) / config.tMax))) / 2;
    case 'linear':
      return baseLr * (config.startFactor + ((config.endFactor - config.startFactor) * Math.min(count, config.totalIters)) / config.totalIters);
    case 'exponential':
      return baseLr * config.gamma ** count;
  }
}

const KEYS: Record<SchedulerConfig['type'], readonly string[]> = {
  step: ['stepSize', 'gamma'],
  cosine: ['tMax', 'etaMin'],
  linear: ['startFactor', 'endFactor', 'totalIters'],
  exponential: ['gamma'],
};

/** Resolves defaults and checks fields; one-line PushInputError on anything wrong. */
export function parseSchedulerConfig(input: unknown): SchedulerConfig {
  const raw = input as Record<string, unknown> | null;
  if (raw === null || typeof raw !== 'object') throw new PushInputError(`scheduler ${describeValue(input)}: expected {type, ...} with type one of ${SCHEDULER_TYPES.join(', ')}`);
  const type = raw.type as SchedulerConfig['type'];
  if (!SCHEDULER_TYPES.includes(type)) throw new PushInputError(`unknown scheduler ${describeValue(raw.type)}: expected one of ${SCHEDULER_TYPES.join(', ')}`);
  for (const key of Object.keys(raw)) {
    if (key !== 'type' && !KEYS[type].includes(key)) throw new PushInputError(`scheduler ${type} has unknown option ${JSON.stringify(key)}: expected ${KEYS[type].join(', ')}`);
  }
  const num = (key: string, dflt: number | undefined, ok: (v: number) => boolean, expected: string): number => {
    const v = raw[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new PushInputError(`scheduler ${type} ${key} ${describeValue(v)}: expected ${expected}`);
    return v;
  };
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  switch (type) {
    case 'step':
      return { type, stepSize: num('stepSize', undefined, positiveInt, 'a positive integer'), gamma: num('gamma', 0.1, (v) => v > 0, 'a number > 0') };
    case 'cosine':
      return { type, tMax: num('tMax', undefined, positiveInt, 'a positive integer'), etaMin: num('etaMin', 0, (v) => v >= 0, 'a number >= 0') };
    case 'linear': {
      const factor = (v: number) => v > 0 && v <= 1;
      return {
        type,
        startFactor: num('startFactor', 1 / 3, factor, 'a number in (0, 1]'),
        endFactor: num('endFactor', 1, (v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
        totalIters: num('totalIters', 5, positiveInt, 'a positive integer'),
      };
    }
    case 'exponential':
      return { type, gamma: num('gamma', undefined, (v) => v > 0, 'a number > 0') };
  }
}
