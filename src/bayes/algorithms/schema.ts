// Option schemas of the algorithms: one spec per option gives its API name, its
// CLI flag and help, its type, range and default. The API validates with it
// (readOption) and the CLI parses flag text with the same ranges (parseFlag), so
// the two cannot disagree about what a value may be.
import { PushInputError, describeValue } from '../../util/errors';

export type OptionKind = 'int' | 'number' | 'boolean' | 'median-or-number' | 'choice';

export interface OptionSpec {
  /** Name in the API's options object. */
  readonly key: string;
  /** Command-line flag, e.g. "--swag-lr". */
  readonly flag: string;
  /** Value name in --help, e.g. "<rate>" (none for a boolean switch). */
  readonly arg?: string;
  /** --help text, without the default (added from `defaultText`). */
  readonly help: string;
  readonly kind: OptionKind;
  readonly min?: number;
  readonly max?: number;
  readonly minExclusive?: boolean;
  readonly maxExclusive?: boolean;
  /** kind 'choice': the words it may be. */
  readonly choices?: readonly string[];
  /** What is expected, when the range alone says it badly (e.g. "a rate in (0, 1)"). */
  readonly expected?: string;
  /** The default as --help shows it. */
  readonly defaultText?: string;
  /** An API option only: no command-line flag. */
  readonly apiOnly?: boolean;
  /** Where a flag's value goes in the API options (default: under `key`). */
  toApi?(value: unknown): Record<string, unknown>;
}

function describeRange(s: OptionSpec): string {
  const { min, max, minExclusive, maxExclusive } = s;
  if (min !== undefined && max !== undefined) return `in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`;
  if (min !== undefined) return `${minExclusive ? '>' : '>='} ${min}`;
  if (max !== undefined) return `${maxExclusive ? '<' : '<='} ${max}`;
  return '';
}

/** What a value of this option must be, in words. */
export function expectedOf(s: OptionSpec): string {
  if (s.expected) return s.expected;
  switch (s.kind) {
    case 'boolean':
      return 'true or false';
    case 'int':
      return `a whole number ${describeRange(s)}`.trimEnd();
    case 'number':
      return `a number ${describeRange(s)}`.trimEnd();
    case 'median-or-number':
      return `"median" or a number ${describeRange(s)}`.trimEnd();
    case 'choice':
      return `one of ${(s.choices ?? []).join(', ')}`;
  }
}

function inRange(s: OptionSpec, v: number): boolean {
  return (
    Number.isFinite(v) &&
    (s.min === undefined || (s.minExclusive ? v > s.min : v >= s.min)) &&
    (s.max === undefined || (s.maxExclusive ? v < s.max : v <= s.max)) &&
    (s.kind !== 'int' || Number.isSafeInteger(v))
  );
}

/** Whether v is a valid value of the option. */
export function validValue(s: OptionSpec, v: unknown): boolean {
  if (s.kind === 'boolean') return typeof v === 'boolean';
  if (s.kind === 'choice') return typeof v === 'string' && (s.choices ?? []).includes(v);
  if (s.kind === 'median-or-number' && v === 'median') return true;
  return typeof v === 'number' && inRange(s, v);
}

/** The option's value checked (one-line PushInputError naming `label` otherwise); `fallback` when absent. */
export function readOption<T>(raw: Record<string, unknown>, s: OptionSpec, fallback: T): T {
  const v = raw[s.key];
  if (v === undefined) return fallback;
  if (!validValue(s, v)) throw new PushInputError(`${s.key} ${describeValue(v)}: expected ${expectedOf(s)}`);
  return v as T;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A flag's text parsed and checked by its schema: the value the API receives. */
export function parseFlag(s: OptionSpec, raw: string | boolean, show: (raw: unknown) => string): unknown {
  if (s.kind === 'boolean') return raw === true || raw === 'true';
  const text = String(raw);
  let v: unknown;
  if (s.kind === 'median-or-number' && text === 'median') v = 'median';
  else if (s.kind === 'choice') v = text;
  else if (s.kind === 'int') v = /^\+?\d+$/.test(text) ? Number(text) : NaN;
  else v = DECIMAL.test(text.trim()) ? Number(text) : NaN;
  if (!validValue(s, v)) throw new PushInputError(`${s.flag} ${show(text)}: expected ${expectedOf(s)}`);
  return v;
}

// Specs shared by several algorithms (same name, same meaning).

export const NUM_SAMPLES = (what: string, dflt: number): OptionSpec => ({
  key: 'numSamples',
  flag: '--samples',
  arg: '<n>',
  help: `${what} per particle at prediction`,
  kind: 'int',
  min: 1,
  max: 10000,
  defaultText: String(dflt),
});

export const TEMPERATURE: OptionSpec = {
  key: 'temperature',
  flag: '--temperature',
  arg: '<t>',
  help: 'posterior temperature T: log p(theta | D) = -(N/T) x mean loss per example - |theta|^2 / (2 prior-std^2)',
  kind: 'number',
  min: 0,
  minExclusive: true,
  defaultText: '1',
};

export const PRIOR_STD: OptionSpec = {
  key: 'priorStd',
  flag: '--prior-std',
  arg: '<s>',
  help: 'std of the Gaussian prior on every weight',
  kind: 'number',
  min: 0,
  minExclusive: true,
  defaultText: '1',
};
