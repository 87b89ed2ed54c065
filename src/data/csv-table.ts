// A CSV file read as a header plus rectangular rows, with one-line errors that
// name the file, the row (its line in the file; the header is row 1) and the
// column (1-based, with its header name).

import * as fs from 'node:fs';
import { PushInputError } from '../util/errors';
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

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PushInputError(`${file}: no such file, expected an existing CSV file`);
    if (code === 'EISDIR') throw new PushInputError(`${file} is a directory, expected a CSV file`);
    throw new PushInputError(`${file}: cannot be read (${code ?? String(err)}), expected a readable CSV file`);
  }
}

function checkHeader(file: string, line: number, header: string[]): void {
  const seen = new Map<string, number>();
  header.forEach((name, col) => {
    if (name === '') {
      throw new PushInputError(`${file} row ${line} (header), column ${col + 1}: empty column name, expected a name`);
    }
    const first = seen.get(name);
    if (first !== undefined) {
      throw new PushInputError(
        `${file} row ${line} (header), column ${col + 1} ${quote(name)}: duplicate column name ` +
          `(also column ${first + 1}), expected unique names`,
      );
    }
    seen.set(name, col);
  });
}

function checkRowLength(file: string, header: string[], row: CsvRecord): void {
  const got = row.fields.length;
  if (got === header.length) return;
  const detail =
    got < header.length
      ? `column ${got + 1} ${quote(header[got])} is missing`
      : `column ${header.length + 1} is beyond the last header column ${quote(header[header.length - 1])}`;
  throw new PushInputError(
    `${file} row ${row.line}: has ${got} fields but the header has ${header.length} (${detail}), expected one field per column`,
  );
}

/** "file row R, column C "name"" — the start of every cell error. */
export function cellLocation(table: CsvTable, row: CsvRecord, col: number): string {
  return `${table.file} row ${row.line}, column ${col + 1} ${quote(table.header[col])}`;
}

// Decimal numbers only: rejects "", "NA", "NaN", "Infinity", "0x1f" that Number() would let through.
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function isNumericCell(text: string): boolean {
  return NUMBER.test(text.trim());
}

/** The cell as a number, or a one-line error naming file, row and column. */
export function numericCell(table: CsvTable, row: CsvRecord, col: number): number {
  const text = row.fields[col].trim();
  const value = NUMBER.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) {
    throw new PushInputError(`${cellLocation(table, row, col)}: expected a number, got ${quote(text)}`);
  }
  return value;
}

/** The index of a column by header name, or an error listing the columns. */
export function columnIndex(table: CsvTable, name: string, role: string): number {
  const col = table.header.indexOf(name.trim());
  if (col < 0) {
    throw new PushInputError(
      `${table.file}: no column named ${quote(name)} for the ${role}, expected one of: ${listColumns(table.header)}`,
    );
  }
  return col;
}

function listColumns(header: string[]): string {
  const shown = header.slice(0, 20).map(quote).join(', ');
  return header.length > 20 ? `${shown}, ... (${header.length} columns)` : shown;
}

/** JSON-quoted (so a newline inside stays on one line) and cut short. */
export function quote(text: string): string {
  const q = JSON.stringify(text);
  return q.length > 42 ? q.slice(0, 38) + '..."' : q;
}
