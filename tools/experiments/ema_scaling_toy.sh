#!/bin/bash
# Experiment 1 of the SSL issue: the EMA scaling rule on a noisy quadratic (tools/experiments/ema_scaling_toy.cpp
# says what and how). Runs in about a second; prints the table, writes curves.csv, summary.json and the figure
# into OUT (default experiments/ema_scaling_toy) and copies the figure to docs/figures/ for the README.
#
# usage: tools/experiments/ema_scaling_toy.sh [OUT] [SEEDS]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/experiments/ema_scaling_toy}
seeds=${2:-64}
program=$repo/build/bin/experiment_ema_scaling_toy
[ -x "$program" ] || { echo "ema_scaling_toy.sh: build first (make build): no $program" >&2; exit 2; }
"$program" --out "$out" --seeds "$seeds"
mkdir -p "$repo/docs/figures"
cp "$out/ema_scaling_toy.svg" "$repo/docs/figures/ema_scaling_toy.svg"
