// Output of the CLI: where things go (stdout holds results, stderr holds
// progress and logs), number and table formatting, and atomic file writes.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface OutputMode {
  /** stdout holds exactly one JSON object; nothing else is printed to stdout. */
  json: boolean;
  /** Nothing but the final result. */
  quiet: boolean;
  /** Debug logs and stack traces. */
  verbose: boolean;
}

/** Logs on stderr, silenced by --quiet and --json (the JSON object is the whole answer). */
export class Log {
  constructor(readonly mode: OutputMode) {}

  /** A progress or status line (stderr); dropped with --quiet or --json. */
  info(line: string): void {
    if (!this.mode.quiet && !this.mode.json) process.stderr.write(line + '\n');
  }

  /** Only with --verbose (stderr), even with --json. */
  debug(line: string): void {
    if (this.mode.verbose) process.stderr.write(`push-ens: ${line}\n`);
  }

  /** A warning (stderr) that --quiet does not hide. */
  warn(line: string): void {
    process.stderr.write(`push-ens: warning: ${line}\n`);
  }
}

/** The final result: the JSON object with --json, else the text. */
export function emitResult(mode: OutputMode, json: Record<string, unknown>, text: () => string): void {
  if (mode.json) {
    process.stdout.write(JSON.stringify(json, jsonReplacer, 2) + '\n');
  } else {
    const t = text();
    if (t !== '') process.stdout.write(t.endsWith('\n') ? t : t + '\n');
  }
}

/** Non-finite numbers become null (JSON has no NaN); typed arrays become arrays. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
  return value;
}

// ------------------------------------------------------------ formatting

/** A number for a table: 4 significant digits, no exponent for ordinary sizes. */
export function fmt(x: number | undefined | null, digits = 4): string {
  if (x === undefined || x === null || Number.isNaN(x)) return '-';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-4) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toString();
}

/** Thousands separators: 12345 -> "12,345". */
export function fmtInt(x: number): string {
  return Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function fmtSeconds(s: number): string {
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}

/** A plain text table: first column left-aligned, the rest right-aligned unless `align` says 'l'. */
export function formatTable(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const left = (c: number) => (align ? align[c] === 'l' : c === 0);
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (left(c) ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

// ------------------------------------------------------------ files

/** A temporary sibling of `target`, in the same directory so rename is atomic. */
export function tempSibling(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

const pendingTemps = new Set<string>();

/** Writes a file atomically: to a temporary name, then renamed over `target`. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  const tmp = tempSibling(target);
  pendingTemps.add(tmp);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    // One line naming the file the user asked for, not the temporary name (ENOSPC, EISDIR, EACCES...).
    const e = err as NodeJS.ErrnoException;
    const reason = /^[A-Z]+: ([^,\n]+)/.exec(e.message)?.[1] ?? e.message.split('\n')[0];
    throw new Error(`cannot write ${target}: ${reason}${e.code ? ` (${e.code})` : ''}`);
  } finally {
    pendingTemps.delete(tmp);
  }
}

/** Removes temporary files still being written (called on interrupt). */
export function removePendingTemps(): void {
  for (const tmp of pendingTemps) fs.rmSync(tmp, { force: true, recursive: true });
  pendingTemps.clear();
}

/** The shortest decimal that reads back as the same float32 (predictions are float32). */
export function float32String(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const f = Math.fround(v);
  if (f !== v) return String(v); // not a float32: keep full double precision
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === f) return String(Number(s));
  }
  return String(v);
}

/** CSV with a header; numbers as the shortest strings that read back as the same float32. */
export function toCsv(header: string[], rows: ArrayLike<number | string>[]): string {
  const cell = (v: number | string) => {
    if (typeof v === 'number') return float32String(v);
    return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  };
  const lines = [header.map(cell).join(',')];
  for (const r of rows) lines.push(Array.from(r, cell).join(','));
  return lines.join('\n') + '\n';
}
