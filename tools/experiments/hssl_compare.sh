#!/bin/bash
# Experiment 5 of the SSL issue: homomorphic SSL vs its non-equivariant ablation vs augmentation SimCLR, on
# one network (p4_resnet, width 8). Three recipes that differ only in how positive pairs are made:
#   hssl             training/recipes/ssl/hssl.yaml: two of the 4 rotation fibers of one forward pass
#   hssl_ablation    hssl_ablation.yaml: the same network with ordinary convolutions (fibers no rotation permutes)
#   simclr_baseline  simclr_hssl_baseline.yaml: SimCLR with 90° turns applied to the input (two passes per
#                    image, so 3 epochs to H-SSL's 6: equal backbone compute)
#   hssl_views       hssl_views.yaml: H-SSL with one fiber from each of two augmented views (the paper's
#                    H-SSL + augmentations; two passes per image, 3 epochs)
#   simclr_turns     simclr_hssl_turns.yaml: SimCLR whose two views differ by a 90° turn alone — the
#                    augmentation counterpart of hssl (the paper's claim: the two should match); 3 epochs
# and translation fibers on the ResNet-18/4 of the other SSL recipes (the 16 positions of its last feature map):
#   translation_within  hssl_translation.yaml with one view and both fibers from it (method.pairs=within_view),
#                       8 epochs (one pass per image: the backbone passes of 4 two-view epochs)
#   translation         hssl_translation.yaml as it is: one fiber from each of two augmented views, 5 epochs
# experiment_ssl_runs then tabulates the kNN per epoch and each run's linear probe against its floor.
#
# ≈ 7 × 25–50 min on the idle 2-core machine (45 and 52 min for hssl_views and the baseline, 25 and 35 min for
# the translation runs, 2026-12-07).
# A run whose folder already holds a finished metrics.jsonl (with
# linear_top1) is skipped, an interrupted one resumed. Extra arguments are recipe overrides for every run.
#
# usage: tools/experiments/hssl_compare.sh [OUT] [override …]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
repo=$experiment_repo
out=${1:-$repo/experiments/hssl_compare}
shift $(( $# < 1 ? $# : 1 ))
overrides=("$@")
experiment_require experiment_ssl_runs
program=$repo/build/bin/experiment_ssl_runs
# run NAME RECIPE [override …]: the run's own overrides, then the script's
run() {
  local name=$1 recipe=$2
  shift 2
  train_or_resume "$out/$name" "$repo/training/recipes/ssl/$recipe.yaml" "$@" "${overrides[@]}"
}
# hssl_translation.yaml's view, alone
one_view='data.views=[{transforms: [{name: random_resized_crop, size: 28, scale: [0.2, 1.0]},
  {name: random_horizontal_flip}, {name: color_jitter, brightness: 0.4, contrast: 0.4, p: 0.8},
  {name: normalize, mean: 0.2860, std: 0.3530}]}]'
run hssl hssl
run hssl_ablation hssl_ablation
run simclr_baseline simclr_hssl_baseline
run hssl_views hssl_views
run simclr_turns simclr_hssl_turns
run translation_within hssl_translation method.pairs=within_view train.epochs=8 "$one_view"
run translation hssl_translation
mkdir -p "$repo/docs/figures"
"$program" --title "Experiment 5: H-SSL vs its ablation vs augmentation SimCLR" \
  --run "H-SSL (rotation fibers)=$out/hssl" --run "H-SSL ablation (no equivariance)=$out/hssl_ablation" \
  --run "SimCLR, 90° turns on the input=$out/simclr_baseline" \
  --run "H-SSL, fibers across two augmented views=$out/hssl_views" \
  --run "SimCLR, views differing by a 90° turn alone=$out/simclr_turns" \
  --run "H-SSL, translation fibers within one view (ResNet-18/4)=$out/translation_within" \
  --run "H-SSL, translation fibers across two views (ResNet-18/4)=$out/translation" \
  --summary "$out/summary.json" --figure "$repo/docs/figures/hssl_compare.svg"
