#!/usr/bin/env bash
# Reproduces the work-group benchmark (DESIGN.md section 3: nd-range kernels with barriers
# against plain loops and PoCL; barrier-free nd-range against range; the cost of a barrier).
#
#   scripts/bench-workgroups.sh [ndl_bench_workgroups options]
#
# Installs what it needs (Debian 12 / Ubuntu; sudo only when not root), builds the release
# preset's ndl_bench_workgroups and runs it. The JSON goes to build/release/benchmarks/
# workgroups.json unless a --json=FILE option is given. NDL_CPU_THREADS=T sets the thread
# count of every contender (default: the hardware threads). Takes about 2-3 minutes on a
# 2-core machine; run it on a quiet one.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ git libgtest-dev libboost-context-dev libbenchmark-dev libomp-dev
          pocl-opencl-icd ocl-icd-opencl-dev opencl-headers)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-workgroups: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake --preset release >/dev/null
cmake --build --preset release --target ndl_bench_workgroups

json=(--json=build/release/benchmarks/workgroups.json)
for a in "$@"; do
  case "$a" in --json=*) json=() ;; esac
done
exec ./build/release/benchmarks/ndl_bench_workgroups "${json[@]}" "$@"
