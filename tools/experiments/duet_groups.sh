#!/bin/bash
# Experiment 4 of the SSL issue: does DUET's group vector tell the rotation, and is its content vector
# invariant to it? (tools/experiments/duet_groups.cpp has the measures.)
#
# 1. Trains training/recipes/ssl/duet.yaml (7 epochs, ≈ 40 min on the idle 2-core machine; skipped when
#    OUT/run/checkpoint.safetensors exists). Extra arguments are recipe overrides (train.epochs=1 for a quick look).
# 2. experiment_duet_groups rotates the first EXAMPLES test images to each bin's centre angle and measures the
#    trained and an untrained network -> OUT/duet_groups.json and the figure, copied to docs/figures/.
#
# usage: tools/experiments/duet_groups.sh [OUT] [EXAMPLES] [override …]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/experiments/duet_groups}
examples=${2:-1000}
shift $(( $# < 2 ? $# : 2 ))
vireo=$repo/build/bin/vireo
program=$repo/build/bin/experiment_duet_groups
for binary in "$vireo" "$program"; do
  [ -x "$binary" ] || { echo "duet_groups.sh: build first (make build): no $binary" >&2; exit 2; }
done
checkpoint=$out/run/checkpoint.safetensors
if [ ! -f "$checkpoint" ]; then
  "$vireo" train "$repo/training/recipes/ssl/duet.yaml" run.dir="$out/run" --progress lines "$@"
fi
"$program" --checkpoint "$checkpoint" --examples "$examples" --out "$out" --figure "$out/duet_groups.svg"
mkdir -p "$repo/docs/figures"
cp "$out/duet_groups.svg" "$repo/docs/figures/duet_groups.svg"
