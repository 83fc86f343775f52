#!/usr/bin/env bash
# Install rlsight into .venv (or the active virtual environment), then, in about 4-5 minutes
# on 2 CPU cores: measure the untrained network on held-out starpilot levels, train the
# cpu-quick preset, evaluate it on the same 256 held-out episodes' levels, print both
# returns and draw a first saliency picture of the trained agent. The run lands in runs/.
# Afterwards: source .venv/bin/activate
# Extra arguments go to `rlsight train`, e.g. scripts/quickstart.sh --set train.seed=1
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
rlsight_use_venv
scripts/install.sh
run="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
mkdir -p runs
start=$SECONDS
# The network the run starts from (the preset's seed: the same weights), before any training.
python - "$run.untrained.json" "$@" <<'EOF'
import json, sys, torch
from rlsight.config import load, resolve_config_path
from rlsight.envs import make_env
from rlsight.evaluation import eval_env_count, run_episodes
from rlsight.runs.load import build_model_for
args = sys.argv[2:]  # the --set overrides given for training (e.g. train.seed) apply here too
sets, taking = [], False
for a in args:
    taking = (taking and not a.startswith("-")) or a == "--set"
    if taking and a != "--set":
        sets.append(a)
    elif a.startswith("--set="):
        sets.append(a[6:])
cfg = load(resolve_config_path("cpu-quick"), sets)
torch.manual_seed(cfg.train.seed)
model = build_model_for(cfg).eval()
n = eval_env_count(256)
env = make_env(cfg.env, "test", n, seed=0)
torch.manual_seed(0)
try:
    r = run_episodes(model, env, 256 // n).reshape(-1)
finally:
    env.close()
json.dump({"mean_return": float(r.mean()), "stderr": float(r.std(ddof=1) / len(r) ** 0.5)}, open(sys.argv[1], "w"))
EOF
# bf16 forward passes where the CPU computes bfloat16 natively (faster there, learning within seed noise:
# docs/training.md); elsewhere float32, which is faster on CPUs without it
fast=()
if python -c 'import sys; from rlsight.hardware import cpu_native_bf16; sys.exit(cpu_native_bf16() is None)'; then
    fast=(--set train.autocast=bf16)
fi
rlsight train --config cpu-quick --run-dir "$run" "${fast[@]}" "$@"
rlsight evaluate "$run" --split test --episodes 256 --json > "$run/quickstart-eval.json"
mv "$run.untrained.json" "$run/quickstart-untrained.json"
rlsight saliency "$run" --level 0 --seed 0 --start 40 --frames 1 --target both \
    --out "$run/saliency.png" > /dev/null
python - "$run" $((SECONDS - start)) <<'EOF'
import json, sys
run, secs = sys.argv[1], int(sys.argv[2])
u = json.load(open(f"{run}/quickstart-untrained.json"))
t = json.load(open(f"{run}/quickstart-eval.json"))
print(f"held-out starpilot return, 256 episodes: untrained {u['mean_return']:.2f} ± {u['stderr']:.2f}, "
      f"trained {t['mean_return']:.2f} ± {t['stderr']:.2f}  ({secs // 60} min {secs % 60} s)")
print(f"saliency picture (where the policy and the value look): {run}/saliency.png")
EOF
echo "run directory: $run  (tensorboard --logdir $run/tb; progress plot: $run/progress.png)"
echo "to use rlsight in this shell: source $VIRTUAL_ENV/bin/activate"
