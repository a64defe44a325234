#!/usr/bin/env bash
# Experiment 4 of the steering issue (METHODS.md §2, "Diffusion bias features"): steer the share of one
# class group — footwear (Fashion-MNIST classes 5 sandal, 7 sneaker, 9 ankle boot) against the rest — in
# the samples of an unconditional DDPM UNet to requested proportions, through sparse-autoencoder features of
# its bottleneck, and measure what was achieved (by a classifier's labels) and the Fréchet distance in the
# classifier's feature space against real test images, next to the unsteered model (--scale 1 is exactly the
# unsteered model: only the change of the codes is decoded, and there is none).
#
#   tools/experiments/bias_features.sh DDPM_CHECKPOINT CLASSIFIER_CHECKPOINT [WORK_DIR] [NUM] [STEPS] [SCALE]
#
# Every step is a `vireo steer bias-features` command; the last lines form a table, and
# bin/experiment_bias_features (tools/experiments/bias_features.cpp) draws WORK_DIR/bias_features.svg.
set -euo pipefail
ddpm=$1
classifier=$2
work=${3:-runs/experiment_bias_features}
num=${4:-96}
steps=${5:-10}
scale=${6:-4}
vireo=${VIREO:-build/bin/vireo}
figure_program=${EXPERIMENT:-build/bin/experiment_bias_features}
mkdir -p "$work"
steer() { "$vireo" steer bias-features "$@"; }

steer collect "$ddpm" --classifier "$classifier" --group 5,7,9 --num "$num" --steps "$steps" -o "$work/activations.safetensors"
steer train-sae "$work/activations.safetensors" --expansion 4 --k 8 --sae-steps 400 -o "$work/sae.safetensors"
steer probe "$work/activations.safetensors" --epochs 30 -o "$work/probe.safetensors"
steer locate "$work/activations.safetensors" --sae "$work/sae.safetensors" --probe "$work/probe.safetensors" \
  --top 10 --ig-steps 8 -o "$work/features.safetensors"

# The generation seed differs from the collection's: the samples steered are not the ones features were found on.
generate() {
  steer generate "$ddpm" --sae "$work/sae.safetensors" --features "$work/features.safetensors" \
    --classifier "$classifier" --group 5,7,9 --num "$num" --steps "$steps" --seed 1 --frechet "$num" "$@"
}
{
  generate --proportions 0.7,0.3 --scale 1 --out "$work/unsteered.png"
  for footwear in 0.1 0.3 0.5; do
    rest=$(awk "BEGIN { print 1 - $footwear }")
    generate --proportions "$rest,$footwear" --scale "$scale" --out "$work/footwear_$footwear.png"
  done
  # Scaling moves only features that are already active; a shift adds their directions everywhere.
  generate --proportions 0.5,0.5 --scale 1 --shift 2 --out "$work/footwear_0.5_shift.png"
} | tee "$work/generate.jsonl"
echo "requested footwear  scale  shift  achieved footwear  Fréchet distance"
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    unsteered = r["scale"] == 1 and r["shift"] == 0
    requested = "unsteered" if unsteered else "%.2f" % r["requested"][1]
    print("%17s  %5g  %5g  %17.3f  %16.2f" % (requested, r["scale"], r["shift"], r["achieved"][1], r["frechet_distance"]))
' "$work/generate.jsonl"
"$figure_program" "$work/generate.jsonl" "$work/bias_features.svg"
