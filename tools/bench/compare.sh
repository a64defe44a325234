#!/bin/bash
# compare.sh: Vireo against PyTorch, side by side on this machine, for the workloads of
# ../shared/bench/pytorch (issue 6's bar). For each workload it runs `vireo bench` and PyTorch's
# run.sh alternately — Vireo, PyTorch, Vireo, PyTorch, … (--pairs pairs) — so both see the same machine
# over the same minutes, then prints the median images/s of each side, the throughput ratio
# Vireo/PyTorch, the peak-RSS ratio and the machine's load; then the SGEMM figure (Vireo's matmul beside
# the measured FMA peak and torch.mm in PyTorch's best setting, OpenBLAS's AVX-512 kernel). It writes
# the same results as a markdown table (for the README) and every run's JSON line to a log.
#
# usage: tools/bench/compare.sh [--pairs 3] [--batch 64] [--threads 2] [--steps 20] [--byol-steps 12]
#                               [--warmup 3] [--models "resnet18_cifar vit_tiny ddpm_unet byol_resnet18"]
#                               [--depth 6] [--gemm 1024] [--out bench-compare.md] [--log bench-compare.jsonl]
#   --gemm 0 skips the SGEMM figure; --models "" runs only it.
# environment:
#   VIREO              the vireo command (default: build/bin/vireo under the repository)
#   PYTORCH_BENCH_DIR  the PyTorch scripts (default: ../shared/bench/pytorch relative to the repository)
#   PYTHON             the Python with torch (default: /usr/bin/python3)
#
# PyTorch runs through run.sh, which sources env.sh: its best setting here (OpenBLAS with OpenMP and
# without the machine-wide OPENBLAS_CORETYPE=Haswell cap, jemalloc, AVX-512 kernels). Vireo does not use
# OpenBLAS; its runs get the machine's environment unchanged.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
VIREO=${VIREO:-$repo/build/bin/vireo}
PYTORCH_BENCH_DIR=${PYTORCH_BENCH_DIR:-$repo/../shared/bench/pytorch}
PYTHON=${PYTHON:-/usr/bin/python3}

pairs=3 batch=64 threads=2 steps=20 byol_steps=12 warmup=3 depth=6 gemm=1024
models="resnet18_cifar vit_tiny ddpm_unet byol_resnet18"
out=bench-compare.md log=bench-compare.jsonl
while (($#)); do
  case $1 in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
  (($# >= 2)) || { echo "compare.sh: $1 needs a value (see --help)" >&2; exit 2; }
  case $1 in
    --pairs) pairs=$2 ;;
    --batch) batch=$2 ;;
    --threads) threads=$2 ;;
    --steps) steps=$2 ;;
    --byol-steps) byol_steps=$2 ;;
    --warmup) warmup=$2 ;;
    --depth) depth=$2 ;;
    --models) models=$2 ;;
    --gemm) gemm=$2 ;;
    --out) out=$2 ;;
    --log) log=$2 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift 2
done
((pairs >= 1)) || { echo "compare.sh: --pairs must be at least 1, got $pairs" >&2; exit 2; }
[ -x "$VIREO" ] || { echo "compare.sh: no vireo command at $VIREO (build first, or set VIREO)" >&2; exit 2; }
[ -x "$PYTORCH_BENCH_DIR/run.sh" ] || { echo "compare.sh: no $PYTORCH_BENCH_DIR/run.sh (set PYTORCH_BENCH_DIR)" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "compare.sh: no Python at $PYTHON (set PYTHON)" >&2; exit 2; }
: > "$log"

load() { cut -d' ' -f1-3 /proc/loadavg; }

# One run: its JSON line (the last line of stdout) goes to the log, tagged with side, workload, pair and
# the load average just before it started.
record() {  # record SIDE WORKLOAD PAIR COMMAND...
  local side=$1 workload=$2 pair=$3; shift 3
  local before line
  before=$(load)
  if ! line=$("$@" | tail -n 1); then
    echo "compare.sh: $side $workload (pair $pair) failed: $*" >&2
    exit 1
  fi
  "$PYTHON" - "$side" "$workload" "$pair" "$before" "$line" >> "$log" <<'EOF'
import json, sys
side, workload, pair, load, line = sys.argv[1:]
print(json.dumps(dict(side=side, workload=workload, pair=int(pair), load_before=[float(x) for x in load.split()],
                      result=json.loads(line))))
EOF
  printf '  %-8s %-15s pair %s  load %-16s %s\n' "$side" "$workload" "$pair" "$before" "$line" >&2
}

# torch.mm n×n×n in PyTorch's best setting: median GFLOP/s over batches of ~50 ms.
torch_gemm() {  # torch_gemm N THREADS
  bash -c '. "$1/env.sh"; shift; exec "$@"' _ "$PYTORCH_BENCH_DIR" "$PYTHON" - "$1" "$2" <<'EOF'
import json, os, statistics, sys, time
n, threads = int(sys.argv[1]), int(sys.argv[2])
import torch
torch.set_num_threads(threads)
a, b = torch.randn(n, n), torch.randn(n, n)
torch.mm(a, b)
t0 = time.perf_counter(); torch.mm(a, b); once = time.perf_counter() - t0
per_batch = max(1, int(0.05 / max(once, 1e-9)))
rates = []
for _ in range(9):
    t0 = time.perf_counter()
    for _ in range(per_batch): torch.mm(a, b)
    rates.append(2 * n ** 3 * per_batch / (time.perf_counter() - t0) / 1e9)
print(json.dumps(dict(gemm_n=n, threads=torch.get_num_threads(), gflop_per_s=round(statistics.median(rates), 1),
                      gflop_per_s_best=round(max(rates), 1), torch=torch.__version__,
                      env={k: os.environ.get(k) for k in ('OPENBLAS_CORETYPE', 'ATEN_CPU_CAPABILITY')})))
EOF
}

echo "compare.sh: $pairs pairs, batch $batch, $threads threads, warmup $warmup; log $log" >&2
for workload in $models; do
  n=$steps; extra=()
  [ "$workload" = byol_resnet18 ] && n=$byol_steps
  [ "$workload" = vit_tiny ] && extra=(--depth "$depth")
  common=(--batch "$batch" --steps "$n" --warmup "$warmup" --threads "$threads" "${extra[@]}")
  for ((pair = 1; pair <= pairs; pair++)); do
    record vireo "$workload" "$pair" "$VIREO" bench --model "$workload" "${common[@]}"
    record pytorch "$workload" "$pair" "$PYTORCH_BENCH_DIR/run.sh" "$workload" "${common[@]}"
  done
done
if ((gemm > 0)); then
  for ((pair = 1; pair <= pairs; pair++)); do
    record vireo gemm "$pair" "$VIREO" bench --gemm "$gemm" --threads "$threads"
    record pytorch gemm "$pair" torch_gemm "$gemm" "$threads"
  done
fi

machine=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
"$PYTHON" - "$log" "$out" "$machine, $(nproc) cores" "$pairs" "$batch" "$threads" <<'EOF'
import collections, datetime, json, statistics, sys
log, out, machine, pairs, batch, threads = sys.argv[1:]
runs = [json.loads(line) for line in open(log)]
by = collections.defaultdict(list)
for r in runs: by[(r['workload'], r['side'])].append(r)
# issue 6's bar: throughput ratio at least this, peak-RSS ratio at most 0.7
targets = dict(resnet18_cifar=1.2, vit_tiny=1.5, ddpm_unet=1.3, byol_resnet18=1.3)
med = statistics.median

def throughput(r):  # Vireo's and PyTorch's key names
    x = r['result']; return x['img_per_s'] if r['side'] == 'vireo' else x['img_s_median']
def rss(r):
    x = r['result']; return x['peak_rss_mib'] if r['side'] == 'vireo' else x['peak_rss_MiB']

lines = []
lines.append(f"Measured {datetime.date.today().isoformat()} on {machine}: {threads} threads, batch {batch}, fp32, "
             f"one full training step, medians over {pairs} alternating pairs (Vireo, PyTorch, …) of "
             f"tools/bench/compare.sh; PyTorch {{torch}} in its best setting (../shared/bench/pytorch/env.sh).")
lines.append("")
lines.append("| workload | Vireo img/s | PyTorch img/s | Vireo / PyTorch (pairs) | target | Vireo peak RSS MiB "
             "| PyTorch peak RSS MiB | RSS ratio | load (1 min) |")
lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
torch_version = '?'
workloads = [w for w in dict.fromkeys(r['workload'] for r in runs) if w != 'gemm']
for w in workloads:
    v, p = by[(w, 'vireo')], by[(w, 'pytorch')]
    torch_version = p[0]['result'].get('torch', torch_version)
    tv, tp = med(map(throughput, v)), med(map(throughput, p))
    rv, rp = med(map(rss, v)), med(map(rss, p))
    per_pair = sorted(throughput(a) / throughput(b) for a, b in zip(v, p))
    loads = [r['load_before'][0] for r in v + p]
    name = w + (f" (depth {v[0]['result']['depth']})" if 'depth' in v[0]['result'] else '')
    ok_t = '✓' if tv / tp >= targets.get(w, 0) else '✗'
    ok_m = '✓' if rv / rp <= 0.7 else '✗'
    lines.append(f"| {name} | {tv:.1f} | {tp:.1f} | **{tv / tp:.2f}** ({per_pair[0]:.2f}–{per_pair[-1]:.2f}) "
                 f"| ≥ {targets.get(w, 0):.1f} {ok_t} | {rv:.0f} | {rp:.0f} | **{rv / rp:.2f}** ≤ 0.7 {ok_m} "
                 f"| {min(loads):.1f}–{max(loads):.1f} |")
if by[('gemm', 'vireo')]:
    v, p = by[('gemm', 'vireo')], by[('gemm', 'pytorch')]
    n = v[0]['result']['gemm_n']
    gv = med(r['result']['gflop_per_s'] for r in v)
    peak = med(r['result']['fma_peak_gflop_per_s'] for r in v)
    gp = med(r['result']['gflop_per_s'] for r in p)
    loads = [r['load_before'][0] for r in v + p]
    lines.append("")
    lines.append(f"| SGEMM {n}³, {threads} threads | GFLOP/s | fraction of the FMA peak ({peak:.0f} GFLOP/s measured) "
                 f"| load (1 min) |")
    lines.append("|---|---:|---:|---:|")
    lines.append(f"| Vireo matmul | {gv:.1f} | **{gv / peak:.2f}** (target ≥ 0.9) | {min(loads):.1f}–{max(loads):.1f} |")
    lines.append(f"| torch.mm (OpenBLAS, best setting) | {gp:.1f} | {gp / peak:.2f} | |")
text = "\n".join(lines).replace('{torch}', torch_version) + "\n"
open(out, 'w').write(text)
print(text)
EOF
echo "compare.sh: table written to $out, runs to $log" >&2
