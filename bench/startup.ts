// bench/startup: process start to the first training step of the seed workload
// through the CLI (`push-ens train --particles 8 --devices cpu:0,cpu:1`, one
// epoch), as bench/train's issue-10 table measures it, but many times, so that
// a shared machine's noise shows: min, quartile and median of N runs, with the
// phase breakdown of the fastest. Node's own start (`node -e 0`) is the floor.
// Run: npm run build && node dist/bench/startup.js [runs]
import { spawnSync } from 'node:child_process';
import { printTable, Row, writeResults } from './report';
import { runCliSeed } from './targets';

const ARGS = ['--particles', '8', '--devices', 'cpu:0,cpu:1', '--epochs', '1'];

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function runStartupBench(runs = 10): Promise<Row[]> {
  const nodeMs: number[] = [];
  const firstStep: number[] = [];
  let fastest: Record<string, number> | undefined;
  // Interleaved, so that a burst of load on the machine hits both series.
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    nodeMs.push(performance.now() - t0);
    const run = runCliSeed(ARGS);
    if (firstStep.every((ms) => run.firstStepAtMs < ms)) fastest = run.phases;
    firstStep.push(run.firstStepAtMs);
  }
  const row = (what: string, values: number[]): Row => {
    const s = [...values].sort((a, b) => a - b);
    return { what, runs: s.length, min_ms: Math.round(s[0]), p25_ms: Math.round(quantile(s, 0.25)), median_ms: Math.round(quantile(s, 0.5)) };
  };
  const rows = [row('push-ens train: process start to first step sent (goal <= 500 ms)', firstStep), row('node -e 0: spawn to exit (Node alone)', nodeMs)];
  printTable(`start-up, ${runs} runs each`, rows);
  console.log(`phases of the fastest run: ${JSON.stringify(fastest)}`);
  const file = writeResults('startup', { rows, fastestPhases: fastest, args: ARGS });
  console.log(`results: ${file}`);
  return rows;
}

if (require.main === module) {
  const runs = Number(process.argv[2] ?? 10);
  runStartupBench(Number.isInteger(runs) && runs > 0 ? runs : 10).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
