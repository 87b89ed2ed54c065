// Datasets from CSV files: a header row, then one example per row. Inputs
// must be numeric; the target is numeric (regression) or a class label.

import { PushInputError } from '../util/errors';
import { Dataset, Task } from './dataset';
import { CsvTable, cellLocation, columnIndex, isNumericCell, numericCell, readCsvTable } from './csv-table';

export interface CsvDatasetOptions {
  /** Target column by header name; default the last column. */
  target?: string;
  /** Default 'regression'. For 'classification' the target holds labels. */
  task?: Task;
  /** Dataset name; default `csv:<file>`. */
  name?: string;
}

/**
 * One example per data row: every column but the target is an input feature.
 * Classification labels are integers >= 0 (numClasses = largest + 1) or
 * text, mapped to indices in sorted order with the names kept in classNames.
 */
export function loadCsvDataset(file: string, options: CsvDatasetOptions = {}): Dataset {
  const table = readCsvTable(file);
  const task = options.task ?? 'regression';
  const targetCol =
    options.target === undefined ? table.header.length - 1 : columnIndex(table, options.target, 'target');
  const featureCols = table.header.map((_, c) => c).filter((c) => c !== targetCol);
  if (featureCols.length === 0) {
    throw new PushInputError(`${file}: has only the target column (column ${targetCol + 1}), expected at least one input column besides it${delimiterHint(table.header)}`);
  }
  const n = table.rows.length;
  const base = {
    name: options.name ?? `csv:${file}`,
    x: readColumns(table, featureCols),
    xShape: [n, featureCols.length],
    featureNames: featureCols.map((c) => table.header[c]),
    featureColumns: featureCols.map((c) => c + 1),
    targetName: table.header[targetCol],
  };
  if (task === 'regression') {
    return { ...base, task, y: readColumns(table, [targetCol]), yShape: [n, 1] };
  }
  const labels = readLabels(table, targetCol);
  return { ...base, task, y: labels.y, yShape: [n], numClasses: labels.numClasses, classNames: labels.classNames };
}

export interface CsvInputs {
  x: Float32Array;
  /** [N, number of features] */
  xShape: number[];
  featureNames: string[];
}

/**
 * Inputs for prediction. With `expectedFeatureNames` (the model's input
 * columns) those columns are taken in that order and any others (e.g. a
 * target) are ignored; without, every column is an input.
 */
export function loadCsvInputs(file: string, expectedFeatureNames?: string[]): CsvInputs {
  const table = readCsvTable(file);
  const cols = expectedFeatureNames
    ? expectedFeatureNames.map((name) => columnIndex(table, name, "model's inputs"))
    : table.header.map((_, c) => c);
  return {
    x: readColumns(table, cols),
    xShape: [table.rows.length, cols.length],
    featureNames: cols.map((c) => table.header[c]),
  };
}

/** The given columns of every row, row-major. */
function readColumns(table: CsvTable, cols: number[]): Float32Array {
  const out = new Float32Array(table.rows.length * cols.length);
  let k = 0;
  for (const row of table.rows) {
    for (const c of cols) out[k++] = numericCell(table, row, c);
  }
  return out;
}

// Far beyond any real label set; a bigger index is almost surely a regression target.
const MAX_CLASSES = 100000;

interface Labels {
  y: Float32Array;
  numClasses: number;
  classNames?: string[];
}

function readLabels(table: CsvTable, col: number): Labels {
  const numeric = table.rows.filter((row) => isNumericCell(row.fields[col]));
  if (numeric.length === table.rows.length) return integerLabels(table, col);
  if (numeric.length > 0) {
    // A mix of numbers and text is more likely a data error than a set of class names.
    const firstText = table.rows.find((row) => !isNumericCell(row.fields[col]))!;
    throw new PushInputError(
      `${cellLocation(table, firstText, col)}: the label is text but other labels are numbers, expected all integer labels or all text labels`,
    );
  }
  return textLabels(table, col);
}

function integerLabels(table: CsvTable, col: number): Labels {
  const y = new Float32Array(table.rows.length);
  let max = 0;
  table.rows.forEach((row, i) => {
    const label = numericCell(table, row, col);
    if (!Number.isInteger(label) || label < 0 || label >= MAX_CLASSES) {
      throw new PushInputError(`${cellLocation(table, row, col)}: the label is not an integer class index, expected one in [0, ${MAX_CLASSES - 1}]`);
    }
    y[i] = label;
    max = Math.max(max, label);
  });
  return { y, numClasses: max + 1 };
}

function textLabels(table: CsvTable, col: number): Labels {
  const texts = table.rows.map((row) => row.fields[col].trim());
  const emptyAt = texts.indexOf('');
  if (emptyAt >= 0) {
    throw new PushInputError(`${cellLocation(table, table.rows[emptyAt], col)}: empty label, expected a class name`);
  }
  // Sorted by code unit, not locale, so the index of a class never depends on the machine.
  const classNames = [...new Set(texts)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const indexOf = new Map(classNames.map((name, i) => [name, i]));
  const y = Float32Array.from(texts, (t) => indexOf.get(t)!);
  return { y, numClasses: classNames.length, classNames };
}

const OTHER_DELIMITERS: readonly [string, string][] = [
  [';', 'semicolons'],
  ['\t', 'tabs'],
  ['|', 'vertical bars'],
];

/** A one-column header holding another separator: the file is likely not comma-separated (named, not quoted). */
function delimiterHint(header: readonly string[]): string {
  if (header.length !== 1) return '';
  const found = OTHER_DELIMITERS.find(([d]) => header[0].includes(d));
  return found ? `; its header row contains ${found[1]}: push-ens reads comma-separated files, so save it with commas between columns` : '';
}
