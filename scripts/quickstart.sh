#!/usr/bin/env bash
# Install rlsight into .venv (or the active virtual environment) and train the small
# default (the cpu-quick preset, a few minutes on 2 CPU cores), then evaluate it on
# held-out levels. The run lands in runs/. Afterwards: source .venv/bin/activate
# Extra arguments go to `rlsight train`, e.g. scripts/quickstart.sh --set train.total_steps=50000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
rlsight_use_venv
scripts/install.sh
run="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
mkdir -p runs
rlsight train --config cpu-quick --run-dir "$run" "$@"
rlsight evaluate "$run" --split test --episodes 64
echo "run directory: $run  (tensorboard --logdir $run/tb; progress plot: $run/progress.png)"
echo "to use rlsight in this shell: source $VIRTUAL_ENV/bin/activate"
