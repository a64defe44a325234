#!/bin/bash
# Experiment 3 of the SSL issue: the ER bound at small batch (METHODS.md §1, ER). BYOL and DINO against
# BYOL-ER and DINO-ER, every recipe run at batch 32 — κ = 1/8 of the recipes' base batch 256, so the scaling
# rules give LARS's lr × 1/8 and every EMA momentum ρ^(1/8) (scaling.base_batch_size; METHODS.md's rule),
# the same samples seen as the recipes at their own batch. The property to test: the ER variants train
# stably at batch 32 where the plain methods degrade. experiment_ssl_runs tabulates the kNN per epoch and
# each run's linear probe against its floor; with BATCHES="32 256" every method also runs at its recipe
# batch for reference (the degradation itself).
#
# Cost on the idle 2-core machine at EPOCHS = 2 (the default; the recipes' own 4–7 epochs are ≈ 40 min each
# at batch 256): ≈ 4 × 20–35 min, small batches running slower per image. A run whose folder already holds a
# finished metrics.jsonl is skipped, an interrupted one resumed. Extra arguments are recipe overrides.
#
# usage: [BATCHES="32 256"] tools/experiments/er_small_batch.sh [OUT] [EPOCHS] [override …]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
repo=$experiment_repo
out=${1:-$repo/experiments/er_small_batch}
epochs=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
overrides=("$@")
batches=${BATCHES:-32}
experiment_require experiment_ssl_runs
program=$repo/build/bin/experiment_ssl_runs
labels=()
run() {  # run METHOD BATCH
  labels+=(--run "$1, batch $2=$out/$1_b$2")
  train_or_resume "$out/$1_b$2" "$repo/training/recipes/ssl/$1.yaml" data.batch_size="$2" train.epochs="$epochs" \
    "${overrides[@]}"
}
for batch in $batches; do
  for method in byol byol_er dino dino_er; do run "$method" "$batch"; done
done
mkdir -p "$repo/docs/figures"
"$program" --title "Experiment 3: BYOL and DINO with and without the ER bound, batch ${batches// / and }" \
  "${labels[@]}" --summary "$out/summary.json" --figure "$repo/docs/figures/er_small_batch.svg"
