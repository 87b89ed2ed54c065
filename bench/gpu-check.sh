#!/usr/bin/env bash
# Resident vs host training on cuda:0, for anyone with an NVIDIA GPU:
#   1. in-process group steps on the tensorflow backend (tfjs-node-gpu):
#      ms per particle-step of both paths and their largest parameter difference;
#   2. `push-ens train` on cuda:0 with --resident and --no-resident: training seconds.
# Usage (from the repository root): bench/gpu-check.sh [epochs=5]
# Needs: nvidia-smi, @tensorflow/tfjs-node-gpu@4.22.0 (CUDA 11.2, cuDNN 8.1 on LD_LIBRARY_PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS="${1:-5}"

fail() { echo "gpu-check: $*" >&2; exit 1; }

command -v nvidia-smi >/dev/null 2>&1 || fail "no NVIDIA GPU here (nvidia-smi not found); run this on a machine with a CUDA GPU"
nvidia-smi -L >/dev/null 2>&1 || fail "nvidia-smi finds no usable GPU: $(nvidia-smi -L 2>&1 | head -1)"
node -e "require.resolve('@tensorflow/tfjs-node-gpu')" >/dev/null 2>&1 ||
  fail "@tensorflow/tfjs-node-gpu is not installed: npm install @tensorflow/tfjs-node-gpu@4.22.0 (CUDA 11.2, cuDNN 8.1, Linux x64)"
[ -f dist/bench/resident.js ] || npm run build >/dev/null

echo "== GPU: $(nvidia-smi -L | head -1)"
echo "== 1. group steps on the tensorflow backend (resident vs host)"
CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}" node dist/bench/resident.js tensorflow 5 20

echo "== 2. push-ens train --devices cuda:0 (seed workload, 8 particles, $EPOCHS epochs)"
for mode in --resident --no-resident; do
  out="$(node dist/src/cli/main.js train --devices cuda:0 --particles 8 --epochs "$EPOCHS" "$mode" --json)" ||
    fail "push-ens train --devices cuda:0 $mode failed"
  node -e 'const r = JSON.parse(process.argv[1]); console.log(`${process.argv[2].padEnd(14)} training ${r.trainingSeconds.toFixed(2)} s, ${r.particleStepsPerSecond.toFixed(1)} particle-steps/s, final loss ${JSON.stringify(r.finalLoss)}`)' "$out" "$mode"
done
