#!/bin/bash
# Experiment 5 of the steering issue: the label-probability drop when ablating the neuron path found by joint
# influence vs the activation-argmax path vs random paths, per class, on a Fashion-MNIST ViT.
#
# 1. Trains a small ViT (the ViT-Tiny recipe cut to 4 blocks of width 32, 7×7 patches, 120 steps of 64 images:
#    about 3 minutes on a loaded 2-core machine; skipped when OUT/vit/checkpoint.safetensors exists).
# 2. Per class: `vireo steer neuron-path` finds the path on EXAMPLES training images of the class (m = 20) and
#    measures, on EVAL test images of the class, the label probability clean and with each path ablated
#    (found, argmax, RANDOM random paths drawn from seeds 100·C, 100·C + 1, …) -> OUT/class_C.json.
# 3. experiment_neuron_paths gathers the table, OUT/summary.json and the figure, copied to docs/figures/.
#
# usage: tools/experiments/neuron_paths.sh [OUT] [EXAMPLES] [EVAL] [RANDOM]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/experiments/neuron_paths}
examples=${2:-16}
evaluation=${3:-50}
random_paths=${4:-3}
vireo=$repo/build/bin/vireo
program=$repo/build/bin/experiment_neuron_paths
for binary in "$vireo" "$program"; do
  [ -x "$binary" ] || { echo "neuron_paths.sh: build first (make build): no $binary" >&2; exit 2; }
done
checkpoint=$out/vit/checkpoint.safetensors
if [ ! -f "$checkpoint" ]; then
  "$vireo" train "$repo/training/recipes/supervised_vit_tiny_fmnist.yaml" run.dir="$out/vit" \
    model.name=vit model.depth=4 model.width=32 model.heads=4 model.patch_size=7 \
    data.batch_size=64 optimizer.lr=3e-3 train.epochs=1 train.max_steps=120 train.label_smoothing=0.0 \
    schedule.warmup_epochs=0.02 run.log_every=20 run.checkpoint_every=1000 --progress lines
fi
"$vireo" eval "$checkpoint"
for class in 0 1 2 3 4 5 6 7 8 9; do
  "$vireo" steer neuron-path "$checkpoint" --class "$class" --examples "$examples" --eval-examples "$evaluation" \
    --random-paths "$random_paths" --seed "$((100 * class))" -o "$out/class_$class.json"
done
"$program" --in "$out" --figure "$out/neuron_paths.svg"
mkdir -p "$repo/docs/figures"
cp "$out/neuron_paths.svg" "$repo/docs/figures/neuron_paths.svg"
