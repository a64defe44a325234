#!/usr/bin/env bash
# Installs the Debian packages Vireo needs that are missing (and only those), with sudo when not root.
# Called by `make build`, `make run` and `make test`; harmless to run again. `--fuzz` (from `make fuzz`)
# adds the fuzzing toolchain: clang, its libFuzzer and sanitizer runtimes, and its OpenMP runtime.
set -euo pipefail

packages=(
  g++ make cmake ninja-build pkg-config  # toolchain
  libeigen3-dev                         # reference linear algebra (GEMM floor, tests)
  doctest-dev                           # test framework
  zlib1g-dev                            # gzipped IDX datasets
  nlohmann-json3-dev                    # safetensors headers (JSON)
  libstb-dev                            # PNG/JPEG decoding and PNG writing (stb_image)
  libyaml-cpp-dev                       # YAML recipes
  libcli11-dev                          # the vireo command line
  openmpi-bin libopenmpi-dev            # data-parallel training: mpirun and MPI (training/dist)
  dataset-fashion-mnist                 # the default recipe's data
  chromium                              # the browser test of reports (headless; 115 MB download, 369 MB installed)
)
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(
    clang                               # the fuzz build's compiler (clang 14 on Debian 12)
    libclang-rt-dev                     # compiler-rt: libclang_rt.fuzzer, .asan, .ubsan (libclang-rt-14-dev)
    libomp-dev                          # OpenMP for clang (gcc's libgomp does not serve it)
  )
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0

echo "vireo: installing missing Debian packages: ${missing[*]}"
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
