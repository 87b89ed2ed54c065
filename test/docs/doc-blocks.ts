// Runs the examples of a markdown document as written. A fenced block is tested
// when the line before it is a marker:
//   <!-- test: file NAME -->   the block is written to NAME in the run's directory
//   <!-- test: run -->         the block is a transcript: `$ command` lines, each
//                              followed by its output, `…` lines eliding some, and
//                              `[exit N]` giving the exit code (default 0)
//   <!-- test: run; SIGINT after "TEXT" --> the same, sending SIGINT to the command once TEXT is printed
//   <!-- test: skip: REASON --> shown output that cannot run here (REASON says why)
// Output is compared by kind, not digits: numbers become `#`, runs of spaces
// one space, and the expected lines must appear in order among the actual ones;
// expected JSON must have the same keys (recursively) as the actual JSON.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root (dist/test/docs -> ../../..). */
export const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');

export type Block =
  | { kind: 'file'; name: string; text: string; line: number }
  | { kind: 'run'; text: string; line: number; sigint?: string }
  | { kind: 'skip'; reason: string; text: string; line: number };

/** The marked blocks of a document, and the transcripts (blocks whose first line is `$ ...`) left unmarked. */
export function parseDoc(file: string): { blocks: Block[]; unmarked: number[] } {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  const unmarked: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('```')) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    const text = lines.slice(i + 1, end).join('\n');
    const marker = /^<!-- test: (.*) -->$/.exec(lines[i - 1] ?? '')?.[1];
    const line = i + 1;
    if (marker?.startsWith('file ')) blocks.push({ kind: 'file', name: marker.slice(5).trim(), text: text + '\n', line });
    else if (marker?.startsWith('skip:')) blocks.push({ kind: 'skip', reason: marker.slice(5).trim(), text, line });
    else if (marker?.startsWith('run')) blocks.push({ kind: 'run', text, line, sigint: /SIGINT after "(.*)"/.exec(marker)?.[1] });
    else if (text.startsWith('$ ')) unmarked.push(line);
    i = end;
  }
  return { blocks, unmarked };
}

/** A scratch directory where `import 'push-ens'` resolves to this checkout and `test/fixtures` exists, as in a clone. */
export function scratchDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(REPO, path.join(dir, 'node_modules', 'push-ens'));
  fs.symlinkSync(path.join(REPO, 'test'), path.join(dir, 'test'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

interface Step {
  command: string;
  expected: string[];
  exit: number;
}

/** Splits a transcript into commands, each with its expected output and exit code. */
export function transcriptSteps(text: string): Step[] {
  const steps: Step[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2).replace(/\s+#.*$/, '').trim(), expected: [], exit: 0 });
    else if (steps.length === 0) throw new Error(`transcript starts with output, not a "$ " command: ${line}`);
    else if (/^\[exit (\d+)\]$/.test(line)) steps[steps.length - 1].exit = Number(/\d+/.exec(line)![0]);
    else steps[steps.length - 1].expected.push(line);
  }
  return steps;
}

/** How a transcript's command runs here: push-ens is the compiled CLI, node runs in the scratch directory. */
function argv(command: string): string[] {
  const words = command.split(/\s+/);
  if (words[0] === 'npx' && words[1] === 'push-ens') return [process.execPath, CLI, ...words.slice(2)];
  if (words[0] === 'push-ens') return [process.execPath, CLI, ...words.slice(1)];
  if (words[0] === 'node') return [process.execPath, ...words.slice(1)];
  if (words[0] === 'head') return ['head', ...words.slice(1)];
  throw new Error(`the docs test cannot run "${command}": expected push-ens, npx push-ens, node or head`);
}

export interface RunResult {
  code: number | null;
  output: string; // stdout and stderr, interleaved as written
  stdout: string;
}

/** Runs a command in `cwd`; with `sigint`, sends SIGINT once that text has been printed. */
export function runCommand(command: string, cwd: string, sigint?: string, timeoutMs = 120_000): Promise<RunResult> {
  const [exe, ...args] = argv(command);
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    let signalled = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`"${command}" did not end within ${timeoutMs} ms; output so far:\n${output}`));
    }, timeoutMs);
    const take = (chunk: Buffer, isStdout: boolean) => {
      output += chunk.toString();
      if (isStdout) stdout += chunk.toString();
      if (sigint && !signalled && output.includes(sigint)) {
        signalled = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', (c: Buffer) => take(c, true));
    child.stderr.on('data', (c: Buffer) => take(c, false));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, stdout });
    });
  });
}

const NUMBER_IN_TEXT = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?|-?\bNaN\b|-?\bInfinity\b/gi;
const NUMBER_IN_CSV = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|-?\bNaN\b|-?\bInfinity\b/gi;

/** A line's kind: numbers as `#` (commas in a line without spaces separate CSV fields), spaces collapsed. */
export function skeleton(line: string): string {
  const t = line.trim();
  return t.replace(t.includes(' ') ? NUMBER_IN_TEXT : NUMBER_IN_CSV, '#').replace(/\s+/g, ' ');
}

const isElision = (line: string) => line.trim() === '' || line.trim().startsWith('…');

/** The expected lines missing from the actual output (in order); JSON is compared by keys. */
export function outputMismatch(expected: string[], actual: RunResult): string | undefined {
  const exp = expected.join('\n').trim();
  if (exp.startsWith('{')) return jsonMismatch(JSON.parse(exp), JSON.parse(actual.stdout), '');
  const lines = actual.output.split('\n').map(skeleton);
  let at = 0;
  for (const line of expected) {
    if (isElision(line)) continue;
    const want = skeleton(line);
    const found = lines.indexOf(want, at);
    if (found < 0) return `expected a line like\n  ${line.trim()}\n(kind: ${want})\nafter line ${at} of the output:\n${actual.output}`;
    at = found + 1;
  }
  return undefined;
}

function jsonMismatch(exp: unknown, act: unknown, at: string): string | undefined {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(exp) !== kind(act)) return `${at || 'the JSON'}: expected ${kind(exp)}, got ${kind(act)}`;
  if (Array.isArray(exp) && Array.isArray(act)) {
    if (exp.length && act.length) return jsonMismatch(exp[0], act[0], `${at}[0]`);
    return undefined;
  }
  if (kind(exp) === 'object') {
    const e = Object.keys(exp as object).sort();
    const a = Object.keys(act as object).sort();
    if (e.join() !== a.join()) return `${at || 'the JSON'}: expected keys ${e.join(', ')}, got ${a.join(', ')}`;
    for (const k of e) {
      const m = jsonMismatch((exp as Record<string, unknown>)[k], (act as Record<string, unknown>)[k], `${at}.${k}`);
      if (m) return m;
    }
  }
  return undefined;
}

/**
 * Runs a document's blocks in order in one scratch directory; throws naming the first example that differs.
 * `rewrite` adapts commands and files to this run (e.g. a server's real port).
 */
export async function runDoc(file: string, dir: string, rewrite: (command: string) => string = (c) => c): Promise<{ ran: string[]; skipped: string[] }> {
  const { blocks, unmarked } = parseDoc(file);
  const rel = path.relative(REPO, file);
  if (unmarked.length) throw new Error(`${rel}: transcripts at lines ${unmarked.join(', ')} have no <!-- test: ... --> marker`);
  const ran: string[] = [];
  const skipped: string[] = [];
  for (const block of blocks) {
    if (block.kind === 'file') fs.writeFileSync(path.join(dir, block.name), rewrite(block.text));
    else if (block.kind === 'skip') skipped.push(`${rel}:${block.line}: ${block.reason}`);
    else {
      for (const step of transcriptSteps(block.text)) {
        const result = await runCommand(rewrite(step.command), dir, block.sigint);
        const where = `${rel}:${block.line}: $ ${step.command}`;
        if (result.code !== step.exit) throw new Error(`${where}: exit code ${result.code}, expected ${step.exit}; output:\n${result.output}`);
        const mismatch = outputMismatch(step.expected, result);
        if (mismatch) throw new Error(`${where}: ${mismatch}`);
        ran.push(where);
      }
    }
  }
  return { ran, skipped };
}
