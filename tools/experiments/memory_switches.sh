#!/bin/bash
# Experiment 1 of the memory issue (tools/experiments/memory_switches.cpp says what it reports): ViT-Tiny
# training steps with each memory switch and all three against the plain model, then short supervised
# Fashion-MNIST runs of one recipe, plain and with all switches, for each of several seeds. Writes into OUT
# (default experiments/memory_switches): bench_<configuration>.json, train_plain_seed<S>/ and
# train_all_seed<S>/, summary.md and memory_switches.svg, which it copies to docs/figures/ for the README.
#
# Each bench configuration runs in ROUNDS rounds, the configurations interleaved, so that a load change on
# the machine falls on all of them; the report averages the rounds' img/s. The accuracy runs are short
# (TRAIN_OVERRIDES below: a 4-block ViT of width 96 on 20000 training images for 3 epochs, 1.5–5 minutes
# each on 2 idle cores depending on the machine), not the full recipe: one pair (plain, all three) per seed in SEEDS, so
# that the report can set the switches' effect against the spread the seed alone makes. Accuracy does not
# depend on the load; speed does: measure the bench part on an idle machine (the load average is printed
# before and recorded in every bench line). PARTS="accuracy" skips the bench, PARTS="bench" the runs; a
# run whose folder already holds its test accuracy is not run again.
#
# usage: [PARTS="bench accuracy"] [SEEDS="0 1 2 3 4"] tools/experiments/memory_switches.sh [OUT] [STEPS] [ROUNDS]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/experiments/memory_switches}
steps=${2:-10}
rounds=${3:-2}
parts=${PARTS:-bench accuracy}
seeds=${SEEDS:-0 1 2 3 4}
vireo=$repo/build/bin/vireo
report=$repo/build/bin/experiment_memory_switches
for program in "$vireo" "$report"; do
  [ -x "$program" ] || { echo "memory_switches.sh: build first (make build): no $program" >&2; exit 2; }
done
mkdir -p "$out"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ " $parts " == *" bench "* ]]; then
  names=(plain approx_bp ms_norm approx_bp_ms_norm checkpoint all)
  declare -A switches=(
    [plain]=""
    [approx_bp]="--approx-bp"
    [ms_norm]="--ms-norm"
    [approx_bp_ms_norm]="--approx-bp --ms-norm"
    [checkpoint]="--checkpoint-blocks"
    [all]="--approx-bp --ms-norm --checkpoint-blocks"
  )
  for name in "${names[@]}"; do rm -f "$out/bench_$name.json"; done
  for round in $(seq "$rounds"); do
    for name in "${names[@]}"; do
      # shellcheck disable=SC2086  # the switches are separate words
      "$vireo" bench --model vit_tiny --depth 12 --batch 64 --steps "$steps" --warmup 1 --threads 2 --memory \
        ${switches[$name]} >> "$out/bench_$name.json"
      echo "bench $name (round $round): $(tail -n 1 "$out/bench_$name.json")"
    done
  done
fi

recipe=$repo/training/recipes/supervised_vit_tiny_fmnist.yaml
TRAIN_OVERRIDES=(model.depth=4 model.width=96 model.heads=3 data.train_subset=20000 data.test_subset=5000
                 train.epochs=3 schedule.warmup_epochs=1 eval.every_epochs=3 run.log_every=20 run.checkpoint_every=0)
train_once() {  # train_once FOLDER [override …]: skipped when FOLDER already holds its test accuracy
  local folder=$1
  shift
  if [ -f "$folder/metrics.jsonl" ] && grep -q '"test_top1"' "$folder/metrics.jsonl"; then return; fi
  "$vireo" train "$recipe" "${TRAIN_OVERRIDES[@]}" run.dir="$folder" "$@"
}
if [[ " $parts " == *" accuracy "* ]]; then
  for seed in $seeds; do
    train_once "$out/train_plain_seed$seed" run.seed="$seed"
    train_once "$out/train_all_seed$seed" run.seed="$seed" memory.approx_bp=true memory.ms_norm=true \
      memory.checkpoint=blocks
  done
fi

"$report" --out "$out"
if [ -f "$out/memory_switches.svg" ]; then
  mkdir -p "$repo/docs/figures"
  cp "$out/memory_switches.svg" "$repo/docs/figures/memory_switches.svg"
fi
