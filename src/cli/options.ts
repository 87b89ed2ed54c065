// Parsing and validation of command-line option values. Commander hands every
// value over as a string (no defaults are set there, so `undefined` means "not
// given"); this module turns them into typed values or throws a one-line
// PushInputError naming the flag, the bad value and what was expected.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PushInputError } from '../util/errors';
import { COMMON_DEFAULTS } from '../bayes/defaults';
import { ALGORITHMS } from '../bayes/algorithms/registry';
import { DEVICE_DEFAULTS } from './device-defaults';

export const TASKS = ['regression', 'classification'] as const;

/** --on-nan: what a NaN or infinite loss does to training. */
export const NAN_POLICIES = ['stop', 'skip', 'reinit'] as const;
export type NanPolicy = (typeof NAN_POLICIES)[number];

/**
 * Defaults of `push-ens train`: the Push seed tutorial, plus 4 particles. The training
 * defaults are src/bayes's (COMMON_DEFAULTS); each algorithm's are in its option schema.
 */
export const TRAIN_DEFAULTS = {
  /** The registry's first algorithm. */
  algo: ALGORITHMS[0].name,
  particles: COMMON_DEFAULTS.particles,
  devices: DEVICE_DEFAULTS.devices,
  data: 'seed-random',
  model: 'biggerNN:10,20',
  epochs: COMMON_DEFAULTS.epochs,
  batchSize: COMMON_DEFAULTS.batchSize,
  lr: COMMON_DEFAULTS.optimizer.lr,
  optimizer: COMMON_DEFAULTS.optimizer.type,
  seed: COMMON_DEFAULTS.seed,
  backend: DEVICE_DEFAULTS.backend,
  isolation: DEVICE_DEFAULTS.isolation,
  checkpointEvery: 1,
  onNan: 'stop' as NanPolicy,
  restartWorkers: 0,
} as const;

/** Largest seed: seeds are 32-bit unsigned. */
export const MAX_SEED = 0xffffffff;

/**
 * Quotes a raw value for a message (JSON, so control characters stay on one line).
 * A long value is cut in the middle: a path's file name, at its end, is what the user needs to see.
 */
export function show(raw: unknown): string {
  const text = JSON.stringify(String(raw));
  if (text.length <= 100) return text;
  return text.slice(0, 40) + '...' + text.slice(text.length - 57);
}

function bad(flag: string, raw: unknown, expected: string): PushInputError {
  return new PushInputError(`${flag} ${show(raw)}: expected ${expected}`);
}

/** A whole number in [min, max] (decimal digits only: "1e3", "0x10", "3.0" and " 4" are rejected). */
export function parseInteger(flag: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = /^\+?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max) || !Number.isSafeInteger(value)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw bad(flag, raw, `a whole number ${range}`);
  }
  return value;
}

export interface NumberRange {
  min?: number;
  max?: number;
  /** Exclude min itself (e.g. a learning rate > 0). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A finite decimal number within the range. */
export function parseNumber(flag: string, raw: string, range: NumberRange = {}): number {
  const value = DECIMAL.test(raw.trim()) ? Number(raw) : NaN;
  const { min, max, minExclusive, maxExclusive } = range;
  const ok =
    Number.isFinite(value) &&
    (min === undefined || (minExclusive ? value > min : value >= min)) &&
    (max === undefined || (maxExclusive ? value < max : value <= max));
  if (!ok) throw bad(flag, raw, `a number ${describeRange(range)}`.trimEnd());
  return value;
}

function describeRange({ min, max, minExclusive, maxExclusive }: NumberRange): string {
  if (min !== undefined && max !== undefined) return `in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`;
  if (min !== undefined) return `${minExclusive ? '>' : '>='} ${min}`;
  if (max !== undefined) return `${maxExclusive ? '<' : '<='} ${max}`;
  return '';
}

export function parseChoice<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw new PushInputError(`${flag} ${show(raw)}: expected one of ${choices.join(', ')}`);
}

/** A comma-separated list of names, each from `choices`, without repeats. */
export function parseNameList<T extends string>(flag: string, raw: string, choices: readonly T[], what: string): T[] {
  const names = raw.split(',').map((s) => s.trim());
  if (raw.trim() === '' || names.some((n) => n === '')) {
    throw new PushInputError(`${flag} ${show(raw)}: expected a comma-separated list of ${what} (${choices.join(', ')})`);
  }
  const seen = new Set<string>();
  for (const name of names) {
    if (!(choices as readonly string[]).includes(name)) {
      throw new PushInputError(`${flag}: unknown ${what.replace(/s$/, '')} ${show(name)}: expected one of ${choices.join(', ')}`);
    }
    if (seen.has(name)) throw new PushInputError(`${flag}: ${show(name)} is listed twice, expected each ${what.replace(/s$/, '')} once`);
    seen.add(name);
  }
  return names as T[];
}

/**
 * `--scheduler TYPE[:KEY=VALUE,...]`, e.g. `cosine:tMax=10` or `step:stepSize=5,gamma=0.5`:
 * an object for parseSchedulerConfig, which checks the fields.
 */
export function parseSchedulerOption(raw: string): Record<string, unknown> {
  const text = raw.trim();
  const colon = text.indexOf(':');
  const type = colon < 0 ? text : text.slice(0, colon);
  const out: Record<string, unknown> = { type };
  if (colon >= 0) {
    const body = text.slice(colon + 1);
    for (const part of body.split(',')) {
      const eq = part.indexOf('=');
      const key = eq < 0 ? '' : part.slice(0, eq).trim();
      const value = eq < 0 ? '' : part.slice(eq + 1).trim();
      if (key === '' || value === '') {
        throw new PushInputError(`--scheduler ${show(raw)}: expected TYPE[:KEY=VALUE,...], e.g. cosine:tMax=10 or step:stepSize=5,gamma=0.5`);
      }
      const num = DECIMAL.test(value) ? Number(value) : NaN;
      out[key] = Number.isFinite(num) ? num : value;
    }
  }
  return out;
}

/** `--bandwidth median|H` with H > 0. */
export function parseBandwidth(raw: string): 'median' | number {
  if (raw === 'median') return 'median';
  const value = DECIMAL.test(raw.trim()) ? Number(raw) : NaN;
  if (!(value > 0) || !Number.isFinite(value)) throw bad('--bandwidth', raw, '"median" or a number > 0');
  return value;
}

// ----------------------------------------------------------------- files

/**
 * Checks that `target` (a file or directory to be created) can be written:
 * its parent exists and is a directory, and `target` is not in the way.
 * Nothing is created. `existing` decides what an existing target means.
 */
export function checkOutputPath(
  flag: string,
  target: string,
  opts: { kind: 'file' | 'dir'; overwrite: boolean; isOurs?: (p: string) => boolean; isEmpty?: (p: string) => boolean },
): string {
  if (target.trim() === '') throw new PushInputError(`${flag} "": expected a ${opts.kind === 'dir' ? 'directory' : 'file'} path`);
  const resolved = path.resolve(target);
  const parent = path.dirname(resolved);
  let parentStat: fs.Stats;
  try {
    parentStat = fs.statSync(parent);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new PushInputError(`${flag} ${show(target)}: a parent of it is a file, expected a path inside an existing directory`);
    throw new PushInputError(`${flag} ${show(target)}: the directory ${show(parent)} does not exist, expected an existing parent directory`);
  }
  if (!parentStat.isDirectory()) {
    throw new PushInputError(`${flag} ${show(target)}: ${show(parent)} is not a directory, expected an existing parent directory`);
  }
  try {
    fs.accessSync(parent, fs.constants.W_OK);
  } catch {
    throw new PushInputError(`${flag} ${show(target)}: the directory ${show(parent)} is not writable`);
  }
  if (isReadOnlyFs(parent)) throw new PushInputError(`${flag} ${show(target)}: the directory ${show(parent)} is not writable`);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(resolved);
  } catch {
    stat = undefined;
  }
  if (stat) {
    if (opts.kind === 'file' && stat.isDirectory()) throw new PushInputError(`${flag} ${show(target)} is a directory, expected a file path`);
    if (opts.kind === 'dir' && !stat.isDirectory()) throw new PushInputError(`${flag} ${show(target)} is a file, expected a directory path`);
    if (opts.kind === 'dir') {
      // isEmpty: a directory holding only the tool's own leftovers (a lock) counts as empty.
      const empty = fs.readdirSync(resolved).length === 0 || (opts.isEmpty?.(resolved) ?? false);
      if (!empty && !(opts.isOurs?.(resolved) ?? false)) {
        throw new PushInputError(`${flag} ${show(target)} exists and is not a push-ens checkpoint: expected a new or empty directory`);
      }
      if (!empty && !opts.overwrite) {
        throw new PushInputError(`${flag} ${show(target)} already holds a checkpoint: pass --force to replace it, or --resume it`);
      }
    } else if (!opts.overwrite) {
      throw new PushInputError(`${flag} ${show(target)} already exists: pass --force to replace it`);
    }
  }
  return resolved;
}

/** Root can write anywhere by permission bits, but not to a read-only mount such as /proc or /sys. */
function isReadOnlyFs(dir: string): boolean {
  const probe = path.join(dir, `.push-ens-probe-${process.pid}-${Date.now()}`);
  try {
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
    return false;
  } catch {
    return true;
  }
}

/** Output format by extension. */
export function outputFormat(flag: string, file: string, allowed: readonly string[]): string {
  const ext = path.extname(file).toLowerCase().replace(/^\./, '');
  if (!allowed.includes(ext)) {
    throw new PushInputError(`${flag} ${show(file)}: expected a file name ending in ${allowed.map((e) => '.' + e).join(' or ')}`);
  }
  return ext;
}
