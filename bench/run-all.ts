// npm run bench: every benchmark in turn; each prints its table and writes
// bench/results/<name>.json. Pass names to run a subset: messaging, train, startup, bayes, rss, soak, scaling, ood, cluster.
import { runMessagingBench } from './messaging';
import { runTrainBench } from './train';
import { runStartupBench } from './startup';
import { runBayesBench } from './bayes';
import { runSoakBench } from './soak';
import { runRssBench } from './rss';
import { runScalingBench } from './scaling';
import { runOodBench } from './ood';
import { runClusterBench } from './cluster';

const BENCHES: Record<string, () => Promise<unknown>> = {
  messaging: runMessagingBench,
  train: () => runTrainBench(process.argv.includes('--quick')),
  startup: () => runStartupBench(process.argv.includes('--quick') ? 5 : 20),
  bayes: () => runBayesBench(process.argv.includes('--quick')),
  rss: () => runRssBench(),
  soak: () => runSoakBench(3),
  scaling: () => runScalingBench(process.argv.includes('--quick') ? 1 : 3),
  ood: () => runOodBench(process.argv.includes('--quick')),
  // Needs nats-server on PATH (.ci/run installs it).
  cluster: () => runClusterBench(process.argv.includes('--quick')),
};

async function main(): Promise<void> {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  for (const name of asked.length ? asked : Object.keys(BENCHES)) {
    const run = BENCHES[name];
    if (!run) throw new Error(`unknown benchmark ${JSON.stringify(name)}: expected one of ${Object.keys(BENCHES).join(', ')}`);
    console.log(`\n=== bench/${name} ===`);
    await run();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
