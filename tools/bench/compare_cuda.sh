#!/bin/bash
# compare_cuda.sh: Vireo against PyTorch on the GPU, side by side on one machine, for the workloads of
# ../shared/bench/pytorch in their CUDA variants (tools/bench/pytorch_cuda; issue 8: bf16 autocast, batch 256
# on an H100). For each workload it runs `vireo bench --device cuda --autocast bf16` and the matching
# PyTorch script alternately — Vireo, PyTorch, Vireo, PyTorch, … (--rounds rounds) — so both see the same GPU
# over the same minutes, then prints a markdown table: the median images/s of each side, the throughput ratio
# Vireo/PyTorch (median and range over the rounds' pairs), the peak GPU memory of each (Vireo's
# peak_tensor_mib; PyTorch's torch.cuda.max_memory_allocated over the timed steps, with max_memory_reserved)
# and their ratio, each side's final loss (a NaN or a wild value flags a broken bf16 path), and how busy
# the GPU was before the runs (another process on it spoils the numbers). It writes the table to --out and
# every run's JSON line to --log.
#
# usage: tools/bench/compare_cuda.sh [--quick] [--rounds 3] [--batch 256] [--steps 50] [--warmup 10]
#                                    [--autocast bf16|none] [--depth 6] [--torch-args "--compile"]
#                                    [--models "resnet18_cifar vit_tiny ddpm_unet byol_resnet18"]
#                                    [--out bench-compare-cuda.md] [--log bench-compare-cuda.jsonl]
#   --quick        a first look: 1 round of 10 steps after 3 warm-up steps (--rounds/--steps/--warmup still win)
#   --autocast     given to both sides (none: f32 on both; Vireo must accept the same word)
#   --torch-args   extra options for every PyTorch script (e.g. --tf32, --compile, --channels-last for the two
#                  ResNets only); the default is eager PyTorch with its default TF32 settings, as issue 8 asks
# environment:
#   VIREO                    the vireo command (default: build/bin/vireo under the repository)
#   PYTORCH_CUDA_BENCH_DIR   the PyTorch CUDA scripts (default: tools/bench/pytorch_cuda under the repository)
#   PYTHON                   the Python with a CUDA torch (default: python3)
#
# Exits 3 with a message when there is no GPU (nvidia-smi fails, or the Python's torch sees no CUDA device),
# 2 on a bad option or a missing program, 1 when a run fails.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
VIREO=${VIREO:-$repo/build/bin/vireo}
PYTORCH_CUDA_BENCH_DIR=${PYTORCH_CUDA_BENCH_DIR:-$repo/tools/bench/pytorch_cuda}
PYTHON=${PYTHON:-python3}

quick=0 rounds='' steps='' warmup='' batch=256 autocast=bf16 depth=6 torch_args=''
models="resnet18_cifar vit_tiny ddpm_unet byol_resnet18"
out=bench-compare-cuda.md log=bench-compare-cuda.jsonl
while (($#)); do
  case $1 in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --quick) quick=1; shift; continue ;;
  esac
  (($# >= 2)) || { echo "compare_cuda.sh: $1 needs a value (see --help)" >&2; exit 2; }
  case $1 in
    --rounds) rounds=$2 ;;
    --batch) batch=$2 ;;
    --steps) steps=$2 ;;
    --warmup) warmup=$2 ;;
    --autocast) autocast=$2 ;;
    --depth) depth=$2 ;;
    --torch-args) torch_args=$2 ;;
    --models) models=$2 ;;
    --out) out=$2 ;;
    --log) log=$2 ;;
    *) echo "compare_cuda.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift 2
done
if ((quick)); then : "${rounds:=1}" "${steps:=10}" "${warmup:=3}"; else : "${rounds:=3}" "${steps:=50}" "${warmup:=10}"; fi
for v in rounds batch steps depth; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "compare_cuda.sh: --$v must be a positive integer, got '${!v}'" >&2; exit 2; }
done
[[ $warmup =~ ^[0-9]+$ ]] || { echo "compare_cuda.sh: --warmup must be a non-negative integer, got '$warmup'" >&2; exit 2; }
case $autocast in bf16|none) ;; *) echo "compare_cuda.sh: --autocast must be bf16 or none, got '$autocast'" >&2; exit 2 ;; esac
[ -n "$models" ] || { echo "compare_cuda.sh: --models is empty" >&2; exit 2; }
read -r -a extra_torch <<< "$torch_args"

# No GPU, no comparison: say which check failed.
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "compare_cuda.sh: no GPU here: nvidia-smi is not installed (this compares on an NVIDIA GPU machine)" >&2; exit 3
fi
if ! gpus=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1); then
  echo "compare_cuda.sh: no GPU here: nvidia-smi failed: $gpus" >&2; exit 3
fi
command -v "$PYTHON" >/dev/null 2>&1 || { echo "compare_cuda.sh: no Python at $PYTHON (set PYTHON)" >&2; exit 2; }
if ! "$PYTHON" -c '
import sys
try:
    import torch
except Exception as e:
    sys.exit("compare_cuda.sh: %s cannot import torch (%s); set PYTHON to a Python with a CUDA torch" % (sys.executable, e))
if not torch.cuda.is_available():
    sys.exit("compare_cuda.sh: no GPU for PyTorch: torch %s (CUDA %s) in %s says torch.cuda.is_available() is false"
             % (torch.__version__, torch.version.cuda, sys.executable))
'; then exit 3; fi
[ -x "$VIREO" ] || { echo "compare_cuda.sh: no vireo command at $VIREO (build with -DVIREO_CUDA=ON first, or set VIREO)" >&2; exit 2; }
for w in $models; do
  [ -f "$PYTORCH_CUDA_BENCH_DIR/bench_$w.py" ] ||
    { echo "compare_cuda.sh: no $PYTORCH_CUDA_BENCH_DIR/bench_$w.py for workload $w (set PYTORCH_CUDA_BENCH_DIR)" >&2; exit 2; }
done
: > "$log"

# The GPU's state just before a run: utilization %, memory used MiB, temperature C, SM clock MHz (first GPU).
gpu_state() { nvidia-smi --query-gpu=utilization.gpu,memory.used,temperature.gpu,clocks.sm --format=csv,noheader,nounits |
              head -n 1 | tr -d ' '; }

# One run: its JSON line (the last line of stdout) goes to the log, tagged with side, workload, round and the
# GPU's state just before it started. A run that reports another device, batch or autocast than asked is an error.
record() {  # record SIDE WORKLOAD ROUND COMMAND...
  local side=$1 workload=$2 round=$3; shift 3
  local before line
  before=$(gpu_state)
  if ! line=$("$@" | tail -n 1); then
    echo "compare_cuda.sh: $side $workload (round $round) failed: $*" >&2
    exit 1
  fi
  if ! "$PYTHON" - "$side" "$workload" "$round" "$before" "$line" "$batch" "$autocast" >> "$log" <<'EOF'
import json, sys
side, workload, rnd, before, line, batch, autocast = sys.argv[1:]
try:
    result = json.loads(line)
except ValueError:
    sys.exit("compare_cuda.sh: %s %s (round %s) printed no JSON line: %r" % (side, workload, rnd, line))
# what ran must be what was asked for: on the GPU, this batch, this autocast
for key, want in (('device', 'cuda'), ('batch', int(batch)), ('autocast', autocast)):
    if result.get(key) != want:
        sys.exit("compare_cuda.sh: %s %s (round %s) ran with %s %r, not %r" % (side, workload, rnd, key,
                                                                                result.get(key), want))
state = dict(zip(('util_pct', 'mem_used_mib', 'temp_c', 'sm_mhz'), (float(x) for x in before.split(','))))
print(json.dumps(dict(side=side, workload=workload, round=int(rnd), gpu_before=state, result=result)))
EOF
  then exit 1; fi
  printf '  %-8s %-15s round %s  gpu %-18s %s\n' "$side" "$workload" "$round" "$before" "$line" >&2
}

echo "compare_cuda.sh: $rounds rounds, batch $batch, autocast $autocast, $steps steps after $warmup warm-up;" \
     "GPU: $(head -n 1 <<< "$gpus"); log $log" >&2
for workload in $models; do
  extra=()
  [ "$workload" = vit_tiny ] && extra=(--depth "$depth")
  common=(--batch "$batch" --steps "$steps" --warmup "$warmup" --autocast "$autocast" "${extra[@]}")
  for ((round = 1; round <= rounds; round++)); do
    record vireo "$workload" "$round" "$VIREO" bench --model "$workload" --device cuda "${common[@]}"
    record pytorch "$workload" "$round" "$PYTHON" "$PYTORCH_CUDA_BENCH_DIR/bench_$workload.py" "${common[@]}" \
      "${extra_torch[@]}"
  done
done

"$PYTHON" - "$log" "$out" "$(head -n 1 <<< "$gpus")" "$rounds" "$batch" "$autocast" "$steps" "$warmup" "$torch_args" <<'EOF'
import collections, datetime, json, statistics, sys
log, out, gpu, rounds, batch, autocast, steps, warmup, torch_args = sys.argv[1:]
runs = [json.loads(line) for line in open(log)]
by = collections.defaultdict(list)
for r in runs: by[(r['workload'], r['side'])].append(r)
med = statistics.median

def throughput(r):  # Vireo's and PyTorch's key names
    x = r['result']; return x['img_per_s'] if r['side'] == 'vireo' else x['img_s_median']
def memory(r):
    x = r['result']; return x['peak_tensor_mib'] if r['side'] == 'vireo' else x['peak_tensor_MiB']
def loss(rs):
    return '/'.join('%.3g' % r['result']['final_loss'] for r in rs)

first_torch = next(r['result'] for r in runs if r['side'] == 'pytorch')
modes = [m for m, on in (('torch.compile', first_torch.get('compile')),
                         ('TF32 matmul', first_torch.get('tf32', {}).get('matmul'))) if on]
lines = []
gpu_name, driver, gpu_mib = (gpu.split(', ') + ['?', '?'])[:3]
lines.append(f"Measured {datetime.date.today().isoformat()} on {gpu_name} (driver {driver}, {gpu_mib}): "
             f"batch {batch}, autocast {autocast}, one full training step, {steps} timed steps after {warmup} "
             f"warm-up, medians over {rounds} alternating rounds (Vireo, PyTorch, …) of tools/bench/compare_cuda.sh; "
             f"PyTorch {first_torch['torch']} (CUDA {first_torch.get('cuda')}, cuDNN {first_torch.get('cudnn')}), "
             f"{'eager' if not first_torch.get('compile') else 'compiled'}"
             f"{', extra options: ' + torch_args if torch_args.strip() else ''}"
             f"{' (' + ', '.join(modes) + ')' if modes else ''}. PyTorch's peak GPU memory is "
             f"torch.cuda.max_memory_allocated over the timed steps (its caching allocator's reserved peak in "
             f"parentheses); Vireo's is its peak_tensor_mib.")
lines.append("")
lines.append("| workload | Vireo img/s | PyTorch img/s | Vireo / PyTorch (pairs) | Vireo peak GPU MiB "
             "| PyTorch peak GPU MiB (reserved) | memory ratio | final loss Vireo ; PyTorch | GPU before runs: util %, MiB used |")
lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for w in dict.fromkeys(r['workload'] for r in runs):
    v, p = by[(w, 'vireo')], by[(w, 'pytorch')]
    if not v or not p: continue
    tv, tp = med(map(throughput, v)), med(map(throughput, p))
    mv, mp = med(map(memory, v)), med(map(memory, p))
    reserved = med(r['result']['peak_reserved_MiB'] for r in p)
    per_pair = sorted(throughput(a) / throughput(b) for a, b in zip(v, p))
    util = [r['gpu_before']['util_pct'] for r in v + p]
    used = [r['gpu_before']['mem_used_mib'] for r in v + p]
    name = w + (f" (depth {p[0]['result']['depth']})" if 'depth' in p[0]['result'] else '')
    lines.append(f"| {name} | {tv:.0f} | {tp:.0f} | **{tv / tp:.2f}** ({per_pair[0]:.2f}–{per_pair[-1]:.2f}) "
                 f"| {mv:.0f} | {mp:.0f} ({reserved:.0f}) | **{mv / mp:.2f}** | {loss(v)} ; {loss(p)} "
                 f"| {max(util):.0f} %, {max(used):.0f} MiB |")
text = "\n".join(lines) + "\n"
open(out, 'w').write(text)
print(text)
EOF
echo "compare_cuda.sh: table written to $out, runs to $log" >&2
