// Runs the real CLI (dist/src/cli/main.js) in child processes, with files in os.tmpdir().
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sealManifest } from '../../src/bayes/checkpoint-dir';

/** Compiled CLI entry point: dist/test/cli -> dist/src/cli/main.js. */
export const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');
/** Fixtures stay in the source tree (test/fixtures/cli), next to dist/. */
export const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'cli');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Called once the child is running (e.g. to send it a signal later). */
  onSpawn?: (pid: number) => void;
  /** Called with stderr text as it arrives. */
  onStderr?: (chunk: string) => void;
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? os.tmpdir(),
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onStderr?.(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60000);
    child.on('error', reject);
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Runs tasks with at most `limit` at a time (the machine has 2 cores). */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `push-ens-cli-${prefix}-`));
}

/** Every file under dir with its size and sha256: compare before and after to prove nothing changed. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isDirectory()) {
        out[rel + '/'] = 'dir';
        walk(p);
      } else {
        const data = fs.readFileSync(p);
        out[rel] = `${data.length}:${createHash('sha256').update(data).digest('hex').slice(0, 16)}`;
      }
    }
  };
  walk(dir);
  return out;
}

/** Process ids whose parent is `pid` (Linux /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 is the parent pid; the command (field 2) may hold spaces, so split after ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Asserts the shape of a bad-input failure: one line on stderr, nothing on stdout. */
export function errorLine(r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${r.stderr}`);
  return lines[0];
}

/**
 * A small XML well-formedness check (no XML parser ships with Node): every tag
 * closes in order, attributes are quoted, one root element. Returns the root's name.
 */
export function parseXmlRoot(xml: string): string {
  const body = xml.replace(/^\s*<\?xml[^>]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '');
  const stack: string[] = [];
  let root: string | undefined;
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(body))) {
    const between = body.slice(last, m.index);
    if (/[<>]/.test(between)) throw new Error(`malformed markup near ${JSON.stringify(between.slice(0, 60))}`);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0) {
        if (root !== undefined) throw new Error(`second root element <${name}>`);
        root = name;
      }
      if (!selfClosing) stack.push(name);
    }
  }
  if (/[<>]/.test(body.slice(last))) throw new Error('malformed markup at the end');
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (!root) throw new Error('no root element');
  return root;
}

/** The `d` attributes of the paths inside the group whose class contains `className`. */
export function pathsOfGroup(svg: string, className: string): string[] {
  const start = svg.indexOf(className);
  if (start < 0) return [];
  const end = svg.indexOf('</g>', start);
  return [...svg.slice(start, end).matchAll(/<path[^>]*\sd="([^"]*)"/g)].map((m) => m[1]);
}

/** The epoch a checkpoint directory's manifest records (0 while not written yet or being replaced). */
export function epochOf(dir: string): number {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).epoch;
  } catch {
    return 0;
  }
}


/** The path of the file holding a checkpoint's logical file `name` (format 2: g<generation>-<name>). */
export function checkpointFile(dir: string, name: string): string {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { files: { name: string; file?: string }[] };
  const e = m.files.find((f) => f.name === name);
  if (!e) throw new Error(`${dir}: manifest lists no file ${name}`);
  return path.join(dir, e.file ?? e.name);
}

/** Every file of a checkpoint by logical name, as base64 (compare two checkpoints' particles). */
export function checkpointFiles(dir: string): Record<string, string> {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { files: { name: string; file?: string }[] };
  const out: Record<string, string> = {};
  for (const e of [...m.files].sort((a, b) => a.name.localeCompare(b.name))) out[e.name] = fs.readFileSync(path.join(dir, e.file ?? e.name)).toString('base64');
  return out;
}

/**
 * Edits a checkpoint's manifest and recomputes its manifestSha256, as a deliberate forger
 * would: to reach the checks behind the checksum. (A plain edit is refused as corrupt.)
 */
export function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(m);
  fs.writeFileSync(file, sealManifest(m));
}

/** The result of a run that must succeed; otherwise an error with its exit code and stderr. */
export function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}:\n${r.stderr}`);
  return r;
}

/** The JSON object a successful `--json` run printed (stdout holds exactly that object). */
export function json(r: CliResult): Record<string, any> {
  return JSON.parse(ok(r).stdout);
}
