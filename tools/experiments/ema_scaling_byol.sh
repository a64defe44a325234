#!/bin/bash
# Experiment 2 of the SSL issue: the EMA scaling rule on BYOL. training/recipes/ssl/byol.yaml at batch 256
# (the base, κ = 1), and at batch 64 and 512 — κ = 1/4 and 2, the same samples seen — each with the rule
# (teacher momentum τ → τ^κ besides LARS's lr × κ) and without it (scaling.ema_rule=false: the lr only).
# experiment_ema_scaling_byol then compares every run's kNN curve with the base run's.
#
# Five runs of the recipe at its 7 epochs: ≈ 40 min a run on the idle AVX-512 2-core machine, 57–61 min on the
# AVX2-only one (2026-12-07); EPOCHS shortens every run alike. The recipe's own batch (64) is overridden in every
# run. A run whose folder already holds a finished metrics.jsonl (with linear_top1) is skipped, an interrupted one
# resumed. Extra arguments are recipe overrides for every run.
#
# usage: tools/experiments/ema_scaling_byol.sh [OUT] [EPOCHS] [override …]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
repo=$experiment_repo
out=${1:-$repo/experiments/ema_scaling_byol}
epochs=${2:-7}
shift $(( $# < 2 ? $# : 2 ))
overrides=("$@")
experiment_require experiment_ema_scaling_byol
program=$repo/build/bin/experiment_ema_scaling_byol
run() {  # run NAME BATCH RULE
  train_or_resume "$out/$1" "$repo/training/recipes/ssl/byol.yaml" data.batch_size="$2" scaling.ema_rule="$3" \
    train.epochs="$epochs" "${overrides[@]}"
}
run b256 256 true
run b64_rule 64 true
run b64_norule 64 false
run b512_rule 512 true
run b512_norule 512 false
"$program" --in "$out" --figure "$out/ema_scaling_byol.svg"
mkdir -p "$repo/docs/figures"
cp "$out/ema_scaling_byol.svg" "$repo/docs/figures/ema_scaling_byol.svg"
