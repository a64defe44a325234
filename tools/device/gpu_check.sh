#!/bin/bash
# gpu_check.sh: what a session with a GPU machine runs there (issue 8), prepared so that the machine's few
# minutes go to running, not to typing. Two phases, one call of the device tool each (each call may run at
# most 10 minutes; the build folder stays on the warm machine between the calls):
#
#   tools/device/gpu_check.sh test    configure and build build-gpu/ (Release, CUDA on, all cores), then every
#                                     CUDA test (tests/cuda, the data-parallel suite's GPU case, the CLI's
#                                     run.device=cuda case)
#   tools/device/gpu_check.sh bench   the attention forward (bench_attention_cuda, then PyTorch's on the same
#                                     shapes), then tools/bench/compare_cuda.sh --quick (vireo bench against
#                                     tools/bench/pytorch_cuda, alternating)
#   tools/device/gpu_check.sh train   issue 4's accuracy targets, which need hours of the 2-core CPU machine:
#                                     the supervised ResNet-18 and ViT-Tiny recipes with run.device=cuda and
#                                     bf16 autocast, each stopped after its time limit if it has not ended
#                                     (then resumable there); metrics.jsonl of each comes back under $OUT
#
# With the device tool: carry [".devicedeps"] (made here by ../shared/device/pack.sh) and the command
#   . .devicedeps/unpack.sh && tools/device/gpu_check.sh test
# Every step writes its log to $OUT/<step>.log (OUT: the device tool's folder that comes back; ./gpu-check
# elsewhere) and one line "step: rc N, S s" to $OUT/summary.txt; each step has its own time limit, so a hang
# in one still leaves the others' results. Exits 1 when the build fails, else 0 (read summary.txt).
set -uo pipefail
cd "$(dirname "$0")/../.."
phase=${1:-}
out=${OUT:-gpu-check}
mkdir -p "$out"
build=build-gpu

step() {  # step NAME SECONDS COMMAND…
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  echo "$name: rc $rc, $(( $(date +%s) - start )) s" | tee -a "$out/summary.txt"
  return $rc
}

case $phase in
  test)
    { nvidia-smi; nvcc --version; } > "$out/machine.txt" 2>&1
    step configure 120 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIREO_CUDA=ON || exit 1
    step build 330 cmake --build "$build" -j "$(nproc)" || { tail -n 40 "$out/build.log"; exit 1; }
    step ctest_cuda 120 ctest --test-dir "$build" -R "^cuda/|GPU|run.device cuda" --output-on-failure -j 4 \
      --timeout 100
    tail -n 25 "$out/ctest_cuda.log"
    ;;
  bench)
    step bench_attention 90 "$build/bin/bench_attention_cuda" 10
    step torch_attention 90 python3 tools/bench/pytorch_cuda/bench_attention.py --iterations 10
    step compare_cuda 360 env VIREO="$build/bin/vireo" tools/bench/compare_cuda.sh --quick \
      --out "$out/compare_cuda.md" --log "$out/compare_cuda.jsonl"
    cat "$out/bench_attention.log" "$out/torch_attention.log" "$out/compare_cuda.md" 2>/dev/null
    ;;
  train)
    for recipe in supervised_resnet18_fmnist supervised_vit_tiny_fmnist; do
      step "$recipe" 280 "$build/bin/vireo" train "training/recipes/$recipe.yaml" run.device=cuda run.autocast=bf16 \
        "run.dir=runs-gpu/$recipe"
      cp "runs-gpu/$recipe/metrics.jsonl" "$out/$recipe.metrics.jsonl" 2>/dev/null
      grep -h "test_top1" "runs-gpu/$recipe/metrics.jsonl" 2>/dev/null | tail -n 3
    done
    ;;
  *)
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
    ;;
esac
cat "$out/summary.txt"
exit 0
