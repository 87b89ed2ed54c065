// The issue-10 targets in one table, from one bench run: each figure next to
// its goal, the PyTorch reference (run here with /usr/bin/python3; "not
// measured" when torch is absent) and a verdict.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { printTable, Row } from './report';

export const REFERENCE_DIR = path.resolve(__dirname, '..', '..', '..', 'shared', 'reference');
const CLI = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');

export type Verdict = 'met' | 'not met' | 'not measured' | 'elsewhere';

export interface Target {
  figure: string;
  ours: string;
  goal: string;
  pytorch: string;
  verdict: Verdict;
}

/** `value <= goal` (or >= when `atLeast`), "not measured" when either side is missing. */
export function verdict(value: number | null, goal: number | null, atLeast = false): Verdict {
  if (value === null || goal === null || !Number.isFinite(value) || !Number.isFinite(goal)) return 'not measured';
  return (atLeast ? value >= goal : value <= goal) ? 'met' : 'not met';
}

export function fmtMs(ms: number | null): string {
  return ms === null || !Number.isFinite(ms) ? 'not measured' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}

export function fmtRatio(r: number | null, unit = '×'): string {
  return r === null || !Number.isFinite(r) ? 'not measured' : `${r.toFixed(2)}${unit}`;
}

/** Runs a reference script with /usr/bin/python3; its last stdout line is JSON. Null when python or torch is missing or it fails. */
export function runTorch(script: string, args: string[]): { out: Record<string, number>; wallMs: number } | null {
  const file = path.join(REFERENCE_DIR, script);
  if (!fs.existsSync('/usr/bin/python3') || !fs.existsSync(file)) return null;
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/python3', [file, ...args], { encoding: 'utf8', timeout: 600_000 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) return null;
  try {
    return { out: JSON.parse(r.stdout.trim().split('\n').pop()!), wallMs };
  } catch {
    return null;
  }
}

export interface CliSeedRun {
  wallMs: number;
  firstStepAtMs: number;
  phases: Record<string, number>;
}

/** The seed workload through the CLI, as a user runs it: process spawn to exit, and the CLI's own phase breakdown. */
export function runCliSeed(args: string[]): CliSeedRun {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'train', '--json', ...args], { encoding: 'utf8', timeout: 600_000 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`push-ens train ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  const phases = JSON.parse(r.stdout).phases as Record<string, number>;
  return { wallMs, firstStepAtMs: phases.firstStepAtMs, phases };
}

export function printTargets(targets: Target[]): void {
  printTable('issue 10 targets (one run; ours vs goal and the PyTorch reference)', targets as unknown as Row[]);
}
