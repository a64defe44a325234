#!/bin/bash
# Experiment 2 of the methods issue: DeepPCR's sequential depth and wall-clock time against the depth L of a
# tanh MLP (tools/experiments/deep_pcr_depth.cpp says what and how). About ten seconds on an idle 2-core
# machine; the times are worth something only there, so it prints the load average first. Writes the table,
# results.csv, summary.json and the two figures into OUT (default experiments/deep_pcr_depth) and copies the
# figures to docs/figures/ for the README. Further arguments go to the program (e.g. --widths 16,32).
#
# usage: tools/experiments/deep_pcr_depth.sh [OUT] [program options...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/experiments/deep_pcr_depth}
shift || true
program=$repo/build/bin/experiment_deep_pcr_depth
[ -x "$program" ] || { echo "deep_pcr_depth.sh: build first (make build): no $program" >&2; exit 2; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$program" --out "$out" "$@"
mkdir -p "$repo/docs/figures"
cp "$out/deep_pcr_depth.svg" "$out/deep_pcr_time.svg" "$repo/docs/figures/"
