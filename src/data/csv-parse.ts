// A small RFC 4180 reader: comma-separated fields, double-quoted fields that
// may hold commas, newlines and "" for a quote; LF, CRLF or CR line ends.
// Blank (or whitespace-only) lines are skipped. After a closing quote, any
// further characters up to the comma are kept as they are (lenient).

import { PushInputError } from '../util/errors';

export interface CsvRecord {
  fields: string[];
  /** 1-based line of the file where the record starts (the header is usually 1). */
  line: number;
}

/** Split CSV text into records. `source` (the file name) is only used in error messages. */
export function parseCsvText(text: string, source: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a UTF-8 byte order mark is not part of the header
  let line = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let quoted = false;
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        quoted = true;
        const openLine = line;
        i++;
        for (;;) {
          const close = text.indexOf('"', i);
          if (close < 0) {
            throw new PushInputError(
              `${source} row ${openLine}: a quoted field is never closed, expected a closing double quote`,
            );
          }
          const chunk = text.slice(i, close);
          line += countLineBreaks(chunk);
          field += chunk;
          if (text[close + 1] === '"') {
            field += '"';
            i = close + 2;
          } else {
            i = close + 1;
            break;
          }
        }
      }
      let end = i;
      while (end < n && !isFieldEnd(text.charCodeAt(end))) end++;
      field += text.slice(i, end);
      i = end;
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      // End of record: consume one line break (CRLF, LF or CR).
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    const blank = !quoted && fields.length === 1 && fields[0].trim() === '';
    if (!blank) records.push({ fields, line: startLine });
  }
  return records;
}

const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

function isFieldEnd(code: number): boolean {
  return code === COMMA || code === LF || code === CR;
}

/** Line breaks inside a quoted field, so later rows keep their true line numbers. */
function countLineBreaks(s: string): number {
  let count = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === LF || (c === CR && s.charCodeAt(k + 1) !== LF)) count++;
  }
  return count;
}
