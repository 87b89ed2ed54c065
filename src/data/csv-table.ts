// A CSV file read as a header plus rectangular rows, with one-line errors that
// name the file, the row (its line in the file; the header is row 1) and the
// column (1-based). Errors never quote the file's text, header names included:
// the file may not be a CSV at all (say /etc/passwd) and errors reach logs.

import * as fs from 'node:fs';
import { PushInputError } from '../util/errors';
import { readRegularText } from '../util/safe-read';
import { CsvRecord, parseCsvText } from './csv-parse';

export interface CsvTable {
  /** The path as given, for messages. */
  file: string;
  header: string[];
  /** Data rows, each with exactly header.length fields. */
  rows: CsvRecord[];
}

export function readCsvTable(file: string): CsvTable {
  const records = parseCsvText(readText(file), file);
  if (records.length === 0) {
    throw new PushInputError(`${file} is empty: expected a header row and at least one data row`);
  }
  const [headerRecord, ...rows] = records;
  const header = headerRecord.fields.map((name) => name.trim());
  checkHeader(file, headerRecord.line, header);
  if (rows.length === 0) {
    throw new PushInputError(`${file} has a header (row ${headerRecord.line}) but no data rows: expected at least one`);
  }
  for (const row of rows) checkRowLength(file, header, row);
  return { file, header, rows };
}

/** The whole text must fit one string (V8 caps strings near 512 MiB) and parsing needs several times that. */
export const MAX_CSV_BYTES = 256 * 1024 * 1024;

function readText(file: string): string {
  if (!fs.existsSync(file)) throw new PushInputError(`${file}: no such file, expected an existing CSV file`);
  // The user named the file, so a symlink is followed; a FIFO or device is refused, not read.
  return readRegularText(file, { maxBytes: MAX_CSV_BYTES, followSymlinks: true, what: `CSV file ${file}` });
}

function checkHeader(file: string, line: number, header: string[]): void {
  const seen = new Map<string, number>();
  header.forEach((name, col) => {
    if (name === '') {
      throw new PushInputError(`${file} row ${line} (header), column ${col + 1}: empty column name, expected a name`);
    }
    const first = seen.get(name);
    if (first !== undefined) {
      throw new PushInputError(`${file} row ${line} (header), column ${col + 1}: duplicate column name (also column ${first + 1}), expected unique names`);
    }
    seen.set(name, col);
  });
}

function checkRowLength(file: string, header: string[], row: CsvRecord): void {
  const got = row.fields.length;
  if (got === header.length) return;
  const detail =
    got < header.length
      ? `column ${got + 1} is missing`
      : `column ${header.length + 1} is beyond the last header column`;
  throw new PushInputError(
    `${file} row ${row.line}: has ${got} fields but the header has ${header.length} (${detail}), expected one field per column`,
  );
}

/** "file row R, column C": the start of every cell error. */
export function cellLocation(table: CsvTable, row: CsvRecord, col: number): string {
  return `${table.file} row ${row.line}, column ${col + 1}`;
}

// Decimal numbers only: rejects "", "NA", "NaN", "Infinity", "0x1f" that Number() would let through.
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function isNumericCell(text: string): boolean {
  return NUMBER.test(text.trim());
}

/** The cell as a number, or a one-line error naming file, row and column (not the cell's text). */
export function numericCell(table: CsvTable, row: CsvRecord, col: number): number {
  const text = row.fields[col].trim();
  const value = NUMBER.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) {
    const got = text === '' ? 'an empty cell' : 'a cell that is not a finite decimal number';
    throw new PushInputError(`${cellLocation(table, row, col)}: expected a number, got ${got}`);
  }
  return value;
}

/** The index of a column by header name (`name` is the caller's text, so it may be quoted). */
export function columnIndex(table: CsvTable, name: string, role: string): number {
  const col = table.header.indexOf(name.trim());
  if (col < 0) {
    const n = table.header.length;
    throw new PushInputError(`${table.file}: no column named ${quote(name)} for the ${role} among its ${n} header column${n === 1 ? '' : 's'}, expected a header with that name`);
  }
  return col;
}

/** JSON-quoted (so a newline inside stays on one line) and cut short. */
export function quote(text: string): string {
  const q = JSON.stringify(text);
  return q.length > 42 ? q.slice(0, 38) + '..."' : q;
}
