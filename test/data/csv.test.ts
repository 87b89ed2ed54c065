import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { loadCsvDataset, loadCsvInputs } from '../../src/data/csv';
import { parseCsvText } from '../../src/data/csv-parse';
import { FIXTURES, TempDir, inputErrorMessage } from './temp-files';

let tmp: TempDir;
beforeAll(() => {
  tmp = new TempDir();
});
afterAll(() => tmp.remove());

/** The one-line error loading `content` as a CSV file named `name`. */
function csvError(name: string, content: string, options: Parameters<typeof loadCsvDataset>[1] = {}): string {
  const file = tmp.write(name, content);
  const msg = inputErrorMessage(() => loadCsvDataset(file, options));
  expect(msg).not.toContain('\n');
  expect(msg).toContain(name);
  return msg;
}

describe('parseCsvText', () => {
  test('quoted fields hold commas, quotes and newlines; later rows keep their line numbers', () => {
    const records = parseCsvText('a,b\n"x, y","say ""hi"""\n"two\nlines",3\nlast,4', 'f.csv');
    expect(records.map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['two\nlines', '3'],
      ['last', '4'],
    ]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 5]);
  });

  test('CRLF, CR, a BOM, blank lines and a trailing comma', () => {
    const records = parseCsvText('\ufeffa,b\r\n1,2\r\n\r\n3,\r4,5\r\n  \r\n\r\n', 'f.csv');
    expect(records.map((r) => r.fields)).toEqual([['a', 'b'], ['1', '2'], ['3', ''], ['4', '5']]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 4, 5]);
  });

  test('an unclosed quote names the row where it opened', () => {
    expect(inputErrorMessage(() => parseCsvText('a,b\n1,"oops\n2,3\n', 'f.csv'))).toBe(
      'f.csv row 2: a quoted field is never closed, expected a closing double quote',
    );
  });
});

describe('loadCsvDataset', () => {
  test('regression: default target is the last column; CRLF and trailing blank lines are fine', () => {
    const file = tmp.write('houses.csv', 'sqft, rooms ,price\r\n1400,3,245.5\r\n1600,3,312\r\n\r\n\r\n');
    const ds = loadCsvDataset(file);
    expect(ds.task).toBe('regression');
    expect(ds.xShape).toEqual([2, 2]);
    expect(ds.yShape).toEqual([2, 1]);
    expect(Array.from(ds.x)).toEqual([1400, 3, 1600, 3]);
    expect(Array.from(ds.y)).toEqual([245.5, 312]);
    expect(ds.featureNames).toEqual(['sqft', 'rooms']);
    expect(ds.targetName).toBe('price');
    expect(ds.name).toBe(`csv:${file}`);
  });

  test('a named target column may be anywhere; quoted numbers parse', () => {
    const file = tmp.write('named.csv', 'y,"x 1",x2\n1,"2.5",-3e-1\n4,5,6\n');
    const ds = loadCsvDataset(file, { target: 'y' });
    expect(ds.featureNames).toEqual(['x 1', 'x2']);
    expect(Array.from(ds.x)).toEqual([2.5, Math.fround(-0.3), 5, 6]);
    expect(Array.from(ds.y)).toEqual([1, 4]);
  });

  test('classification with integer labels: numClasses is the largest label + 1', () => {
    const file = tmp.write('int-labels.csv', 'a,b,label\n0,1,2\n1,0,0\n1,1,4\n');
    const ds = loadCsvDataset(file, { task: 'classification' });
    expect(ds.yShape).toEqual([3]);
    expect(Array.from(ds.y)).toEqual([2, 0, 4]);
    expect(ds.numClasses).toBe(5);
    expect(ds.classNames).toBeUndefined();
  });

  test('classification with text labels maps sorted names to indices (fixture file)', () => {
    const ds = loadCsvDataset(path.join(FIXTURES, 'classification.csv'), { task: 'classification' });
    expect(ds.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(ds.numClasses).toBe(3);
    expect(Array.from(ds.y)).toEqual([0, 0, 1, 1, 2, 2, 0, 1, 2]);
    expect(ds.xShape).toEqual([9, 2]);
  });

  test('the regression fixture loads', () => {
    const ds = loadCsvDataset(path.join(FIXTURES, 'regression.csv'), { target: 'price' });
    expect(ds.xShape).toEqual([10, 3]);
    expect(ds.featureNames).toEqual(['sqft', 'rooms', 'age']);
  });

  describe('errors are one line naming the file, row and column', () => {
    test('missing file', () => {
      const missing = path.join(tmp.dir, 'nope.csv');
      expect(inputErrorMessage(() => loadCsvDataset(missing))).toBe(`${missing}: no such file, expected an existing CSV file`);
    });

    test('empty file, and a file of blank lines', () => {
      expect(csvError('empty.csv', '')).toMatch(/empty\.csv is empty: expected a header row/);
      expect(csvError('blank.csv', '\n\r\n  \n')).toMatch(/is empty/);
    });

    test('header only', () => {
      expect(csvError('header-only.csv', 'a,b,c\n\n')).toMatch(/header-only\.csv has a header \(row 1\) but no data rows/);
    });

    test('ragged row, short and long', () => {
      expect(csvError('short.csv', 'a,b,c\n1,2,3\n4,5\n')).toBe(
        `${path.join(tmp.dir, 'short.csv')} row 3: has 2 fields but the header has 3 (column 3 is missing), expected one field per column`,
      );
      expect(csvError('long.csv', 'a,b\n1,2\n\n3,4,5\n')).toMatch(/long\.csv row 4: has 3 fields but the header has 2 \(column 3 is beyond the last header column\)/);
    });

    test('non-numeric cell', () => {
      expect(csvError('text.csv', 'a,b,c\n1,2,3\n4,five,6\n')).toBe(
        `${path.join(tmp.dir, 'text.csv')} row 3, column 2: expected a number, got a cell that is not a finite decimal number`,
      );
      expect(csvError('missing-value.csv', 'a,b\n1,\n')).toMatch(/row 2, column 2: expected a number, got an empty cell/);
      expect(csvError('nan.csv', 'a,b\nNaN,1\n')).toMatch(/row 2, column 1: expected a number, got a cell that is not/);
    });

    test('row numbers count lines inside quoted fields', () => {
      expect(csvError('multiline.csv', 'a,b\n"1\n2",3\n')).toMatch(/row 2, column 1: expected a number/);
    });

    test('unknown target column', () => {
      expect(csvError('target.csv', 'a,b\n1,2\n', { target: 'price' })).toMatch(
        /target\.csv: no column named "price" for the target among its 2 header columns/,
      );
    });

    test('duplicate and empty header names', () => {
      expect(csvError('dup.csv', 'a,b,a\n1,2,3\n')).toMatch(/dup\.csv row 1 \(header\), column 3: duplicate column name \(also column 1\)/);
      expect(csvError('noname.csv', 'a,,c\n1,2,3\n')).toMatch(/noname\.csv row 1 \(header\), column 2: empty column name/);
    });

    test('only a target column', () => {
      expect(csvError('one-col.csv', 'y\n1\n2\n')).toMatch(/only the target column \(column 1\)/);
    });

    test('bad classification labels', () => {
      const opts = { task: 'classification' as const };
      expect(csvError('frac.csv', 'x,label\n1,0\n2,1.5\n', opts)).toMatch(/frac\.csv row 3, column 2: the label is not an integer class index/);
      expect(csvError('neg.csv', 'x,label\n1,-1\n', opts)).toMatch(/neg\.csv row 2, column 2: the label is not an integer class index/);
      expect(csvError('mixed.csv', 'x,label\n1,0\n2,cat\n', opts)).toMatch(/mixed\.csv row 3, column 2: the label is text but other labels are numbers/);
      expect(csvError('nolabel.csv', 'x,label\n1,cat\n2,""\n', opts)).toMatch(/nolabel\.csv row 3, column 2: empty label/);
    });

    test("errors never print the file's text: cells, labels and header names stay out", () => {
      const secret = 'sk_live_9f8e7d6c5b4a';
      const cases: [string, string, Parameters<typeof loadCsvDataset>[1]][] = [
        ['secret-cell.csv', `x,y\n1,2\n${secret},3\n`, {}],
        ['secret-label.csv', `x,label\n1,0\n2,${secret}\n`, { task: 'classification' }],
        ['secret-int-label.csv', `x,label\n1,0\n2,-${secret.length}\n`, { task: 'classification' }],
        ['secret-header.csv', `${secret}\n1\n`, {}],
        ['secret-dup.csv', `${secret},${secret}\n1,2\n`, {}],
        ['secret-ragged.csv', `a,${secret}\n1\n`, {}],
        ['secret-target.csv', `${secret},b\n1,2\n`, { target: 'price' }],
      ];
      for (const [name, content, opts] of cases) {
        const msg = csvError(name, content, opts);
        expect(msg).toMatch(/row \d+|column \d+|header column/);
        expect(msg).not.toContain(secret);
        expect(msg).not.toContain(`-${secret.length}`);
      }
    });

    test('a FIFO or a device is refused with one line, not read', () => {
      const fifo = path.join(tmp.dir, 'pipe.csv');
      execFileSync('mkfifo', [fifo]);
      expect(inputErrorMessage(() => loadCsvDataset(fifo))).toBe(`CSV file ${fifo} is a FIFO: expected a regular file`);
      expect(inputErrorMessage(() => loadCsvDataset('/dev/zero'))).toBe('CSV file /dev/zero is a device: expected a regular file');
    });
  });
});

describe('loadCsvInputs', () => {
  test('without names every column is an input', () => {
    const file = tmp.write('inputs.csv', 'a,b\n1,2\n3,4\n');
    expect(loadCsvInputs(file)).toEqual({ x: Float32Array.from([1, 2, 3, 4]), xShape: [2, 2], featureNames: ['a', 'b'] });
  });

  test('with the model feature names, columns are taken in that order and others ignored', () => {
    const file = tmp.write('with-target.csv', 'b,label,a\n2,cat,1\n4,dog,3\n');
    const inputs = loadCsvInputs(file, ['a', 'b']);
    expect(Array.from(inputs.x)).toEqual([1, 2, 3, 4]);
    expect(inputs.featureNames).toEqual(['a', 'b']);
    const msg = inputErrorMessage(() => loadCsvInputs(file, ['a', 'c']));
    expect(msg).toMatch(/with-target\.csv: no column named "c" for the model's inputs/);
  });
});
