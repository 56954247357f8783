#!/usr/bin/env bash
# Trains the slice-scheduling policy in one command (models/slice_policy/MODEL_CARD.md):
#  1. `policy_oracle` (Rust, the twin) labels states of the TRAINING trial's class-sliced
#     cells with the hindsight value of every action (deterministic: no randomness);
#  2. `models/slice_policy/train.py` (pinned env, numpy seed 0) fits the network, exports
#     slice_policy.onnx + its contract with the sha256, and checks the graph against numpy
#     through onnxruntime.
# Environment: TRACES (default ../shared/traces), PROFILE (cargo profile, default dev),
# ORACLE_ARGS (extra policy_oracle arguments).
# Scenario: TWIN's rule of docs/ab-trials.md (fixed before any policy was evaluated): the
# largest carrier where >= 10 % of the training trial's busy windows contend -> 15 PRB, load x1.
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=${TRACES:-../shared/traces}
PROFILE=${PROFILE:-dev}
DATA=target/policy-data
export CARGO_INCREMENTAL=0
if [ ! -x .cache/train-venv/bin/python ]; then
    python3 -m venv .cache/train-venv
    .cache/train-venv/bin/pip install -q -r models/requirements.txt
fi
start=$(date +%s)
# shellcheck disable=SC2086
cargo run --locked --profile "$PROFILE" -q -p testbed --bin policy_oracle -- \
    --traces "$TRACES" --trial multi-ue-trial2 --cell-prbs 15 --load 1 \
    --window 4 --stride 4 --horizon 8 --levels 1,3,9 --out "$DATA" ${ORACLE_ARGS:-}
.cache/train-venv/bin/python models/slice_policy/train.py --data "$DATA"
echo "train-policy: $(( $(date +%s) - start )) s"
