#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (tools/fuzz/*_fuzz.cpp) with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer in their own build folder, then runs each for a bounded time on a fresh copy
# of its seed corpus, one target at a time. Fails on any finding: a crash, a sanitizer report, a timeout,
# an out-of-memory, or an exception that is not vireo::Error (the targets let those escape).
#
# Environment: FUZZ_SECONDS (per target, default 60), FUZZ_TARGETS (default: every target),
# FUZZ_BUILD_DIR (default build-fuzz), JOBS (build parallelism, default nproc).
# Each run leaves build-fuzz/fuzz-runs/<target>/: the grown corpus, the log, and findings/ with the input
# of each finding, which `build-fuzz/bin/fuzz_<target> FILE` replays.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}
read -r -a targets <<< "${FUZZ_TARGETS:-safetensors recipe idx image}"

# The whole library is instrumented for coverage (fuzzer-no-link) and built with VIREO_SANITIZE's ASan and
# UBSan (-fno-sanitize-recover: UBSan findings abort); only the fuzz executables link libFuzzer's main.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" -DVIREO_SANITIZE=ON -DVIREO_FUZZ=ON -DVIREO_BUILD_TESTS=OFF \
  >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

runs="$build/fuzz-runs"
failed=()
for target in "${targets[@]}"; do
  work="$runs/$target"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/findings"
  cp tools/fuzz/corpus/"$target"/* "$work/corpus/"
  options=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$work/findings/")
  [ -f "tools/fuzz/$target.dict" ] && options+=(-dict="tools/fuzz/$target.dict")
  echo "fuzz: $target for ${seconds} s ($(ls "$work/corpus" | wc -l) seed files)"
  status=0
  "$build/bin/fuzz_$target" "${options[@]}" "$work/corpus" > "$work/fuzz.log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -1)
  peak_rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/fuzz.log" | tail -1)
  echo "fuzz: $target: ${executions:-?} executions, ${per_second:-?}/s, peak RSS ${peak_rss:-?} MB," \
       "corpus grown to $(ls "$work/corpus" | wc -l) files"
  if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/findings")" ]; then
    echo "fuzz: $target: FINDING (exit $status); inputs in $work/findings/, log $work/fuzz.log:"
    grep -m1 -B2 -A30 -E '^==[0-9]+==ERROR|runtime error|deadly signal|ALARM|out-of-memory|terminate called|fuzz property' \
      "$work/fuzz.log" || tail -40 "$work/fuzz.log"
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no finding"
