// Shared benchmark output: a readable table on stdout and a JSON file in bench/results/.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Row = Record<string, string | number | boolean | null>;

export function printTable(title: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: Row[string]) => {
    // A figure that was not taken (no PyTorch, a skipped bench) is null or NaN: say so instead of printing "NaN".
    if (v === null || (typeof v === 'number' && !Number.isFinite(v))) return 'not measured';
    return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 1)) : String(v);
  };
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  // Numbers right-aligned, text left-aligned.
  const numeric = cols.map((c) => rows.every((r) => typeof r[c] === 'number'));
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  console.log(`\n${title}`);
  console.log(line(cols));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

/** Writes results atomically to bench/results/<name>.json (relative to the project root). */
export function writeResults(name: string, data: unknown): string {
  const dir = path.resolve(__dirname, '..', '..', 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ date: new Date().toISOString(), node: process.version, ...(data as object) }, null, 2));
  fs.renameSync(tmp, file);
  return file;
}
