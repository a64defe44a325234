#!/bin/bash
# Experiments 1–3 of the steering issue on a Fashion-MNIST ViT (README "Experiments" 6, METHODS.md §2).
#
# 1. Trains a small ViT (the ViT-Tiny recipe cut to 4 blocks of width 96, 7×7 patches, global average pooling
#    of the tokens instead of a class token, EPOCHS epochs; skipped when OUT/vit/checkpoint.safetensors
#    exists). Average pooling makes the head read the token mean, the same pooling the transports fit on.
# 2. AurA (and Det0, Damp with the top 32 units per point) on the concept "sneaker" (class 7): fitted on
#    FIT training images of class 7 against FIT of the other classes at every block's fc1 and fc2 outputs,
#    swept over λ = 0 … 1 on the test split.
# 3. Linear-AcT from shirt (6) toward T-shirt/top (0), fitted on FIT + FIT training images at every block's
#    norm1, norm2 and fc1 outputs and the final norm, once with the source-range support (the library's
#    default) and once without; swept over λ with the share of shirts predicted as T-shirt and the logit W₂².
# 4. The same transport fitted on only 32 + 32 training images by Linear-AcT (no support) and by LinEAS
#    (STEPS steps at learning rate 1e-2, and at METHODS.md's 1e-3), then LinEAS with the sparse-group weight
#    λ₂ ∈ GROUPS (λ₁ = 0, learning rate 1e-2), each swept at λ = 0 and 1.
# 5. experiment_steering_classifier gathers the tables, OUT/summary.json and the figure, copied to
#    docs/figures/steering_classifier.svg.
#
# usage: tools/experiments/steering_classifier.sh [OUT] [EPOCHS] [FIT] [STEPS]
set -euo pipefail
# OpenMP threads that spin while they wait for work make every small parallel region crawl when the cores are
# shared with other jobs (LinEAS steps ran 30× slower, training 10× on this loaded 2-core machine): sleep.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/experiments/steering_classifier}
epochs=${2:-6}
fit=${3:-6000}
steps=${4:-1000}
groups="0 0.25 0.5 0.75 0.9 0.95 1 1.25"
lineas_lr=1e-2   # LinEAS's Adam learning rate (METHODS.md's default 1e-3 runs too, for comparison)
vireo=$repo/build/bin/vireo
program=$repo/build/bin/experiment_steering_classifier
for binary in "$vireo" "$program"; do
  [ -x "$binary" ] || { echo "steering_classifier.sh: build first (make build): no $binary" >&2; exit 2; }
done
mkdir -p "$out"
checkpoint=$out/vit/checkpoint.safetensors
if [ ! -f "$checkpoint" ]; then
  "$vireo" train "$repo/training/recipes/supervised_vit_tiny_fmnist.yaml" run.dir="$out/vit" run.threads=2 \
    model.name=vit model.depth=4 model.width=96 model.heads=3 model.patch_size=7 model.pooling=mean \
    data.batch_size=128 optimizer.lr=2e-3 train.epochs="$epochs" train.label_smoothing=0.0 \
    schedule.warmup_epochs=0.2 eval.every_epochs="$epochs" run.log_every=100 run.checkpoint_every=100000 \
    --progress lines
fi
"$vireo" eval "$checkpoint"

# ---- 1. AurA, Det0 and Damp on sneaker ----
concept=7
for method in aura det0 damp; do
  "$vireo" steer fit "$checkpoint" --method "$method" --top-k 32 \
    --points 'blocks\.\d+\.mlp\.fc1' 'blocks\.\d+\.mlp\.fc2' \
    --source "class=$concept,count=$fit" --target "class!=$concept,count=$fit" -o "$out/$method.safetensors"
  "$vireo" steer sweep "$checkpoint" --intervention "$out/$method.safetensors" --json "$out/sweep_$method.json"
done

# ---- 2. Linear-AcT shirt -> T-shirt/top, with and without the source-range support ----
source_class=6
target_class=0
points=('blocks\.\d+\.norm[12]' 'blocks\.\d+\.mlp\.fc1' 'norm')
transport=(--source-class "$source_class" --target-class "$target_class")
"$vireo" steer fit "$checkpoint" --method act --points "${points[@]}" \
  --source "class=$source_class,count=$fit" --target "class=$target_class,count=$fit" -o "$out/act.safetensors"
"$vireo" steer fit "$checkpoint" --method act --no-support --points "${points[@]}" \
  --source "class=$source_class,count=$fit" --target "class=$target_class,count=$fit" \
  -o "$out/act_no_support.safetensors"
for name in act act_no_support; do
  "$vireo" steer sweep "$checkpoint" --intervention "$out/$name.safetensors" "${transport[@]}" \
    --json "$out/sweep_$name.json"
done

# ---- 3. 32 + 32 samples: Linear-AcT vs LinEAS, then LinEAS's sparse-group weight λ₂ ----
few=(--source "class=$source_class,count=32" --target "class=$target_class,count=32")
"$vireo" steer fit "$checkpoint" --method act --no-support --points "${points[@]}" "${few[@]}" -o "$out/act32.safetensors"
"$vireo" steer sweep "$checkpoint" --intervention "$out/act32.safetensors" "${transport[@]}" --json "$out/sweep_act32.json"
"$vireo" steer fit "$checkpoint" --method lineas --steps "$steps" --batch-size 32 --learning-rate 1e-3 \
  --points "${points[@]}" "${few[@]}" -o "$out/lineas32_lr1e-3.safetensors"
"$vireo" steer sweep "$checkpoint" --intervention "$out/lineas32_lr1e-3.safetensors" "${transport[@]}" \
  --json "$out/sweep_lineas32_lr1e-3.json"
for group in $groups; do
  "$vireo" steer fit "$checkpoint" --method lineas --steps "$steps" --batch-size 32 --learning-rate "$lineas_lr" \
    --group "$group" \
    --points "${points[@]}" "${few[@]}" -o "$out/lineas_group_$group.safetensors"
  strengths=(0 1)
  [ "$group" = 0 ] && strengths=(0 0.25 0.5 0.75 1)
  "$vireo" steer sweep "$checkpoint" --intervention "$out/lineas_group_$group.safetensors" "${transport[@]}" \
    --strengths "${strengths[@]}" --json "$out/sweep_lineas_group_$group.json"
done
cp "$out/sweep_lineas_group_0.json" "$out/sweep_lineas32.json"   # LinEAS without sparsity, learning rate 1e-2

"$program" --in "$out" --concept "$concept" --source "$source_class" --target "$target_class" \
  --figure "$out/steering_classifier.svg"
mkdir -p "$repo/docs/figures"
cp "$out/steering_classifier.svg" "$repo/docs/figures/steering_classifier.svg"
