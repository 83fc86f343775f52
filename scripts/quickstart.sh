#!/usr/bin/env bash
# Install rlsight and train the small default (configs/cpu-quick.toml, a few minutes on
# 2 CPU cores), then evaluate it on held-out levels. The run lands in runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
run="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
mkdir -p runs
rlsight train --config configs/cpu-quick.toml --run-dir "$run"
rlsight evaluate "$run" --split test --episodes 64
echo "run directory: $run  (tensorboard --logdir $run/tb; progress plot: $run/progress.png)"
