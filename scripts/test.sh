#!/usr/bin/env bash
# The whole test suite: sets up a fresh machine, then
#   1. dev preset (Debug, -Werror): unit + API tests, examples, compile-fail checks
#   2. formatting check (clang-format)
#   3. install + find_package(ndl) consumer build
#   4. asan preset (ASan + UBSan): the same suite
#   5. tsan preset (ThreadSanitizer): the same suite
# Stages can be chosen: scripts/test.sh dev asan (default: all). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(dev format package asan tsan)
jobs=$(nproc)

run_preset() {
  local preset=$1
  echo "=== test.sh: $preset ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset"
}

for stage in "${stages[@]}"; do
  case "$stage" in
    dev|asan|tsan|release) run_preset "$stage" ;;
    format)
      echo "=== test.sh: clang-format ==="
      git ls-files '*.hpp' '*.cpp' | xargs clang-format --dry-run --Werror
      echo "formatting ok"
      ;;
    package)
      echo "=== test.sh: install + find_package consumer ==="
      prefix=$(mktemp -d)
      cmake -S . -B build/package -G Ninja -DCMAKE_BUILD_TYPE=Release -DNDL_BUILD_TESTS=OFF \
        -DNDL_BUILD_EXAMPLES=OFF -DNDL_BUILD_BENCHMARKS=OFF -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
      cmake --build build/package -j "$jobs"
      cmake --install build/package >/dev/null
      cmake -S tests/consumer -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
      cmake --build build/consumer
      ./build/consumer/ndl_consumer
      rm -rf "$prefix"
      ;;
    *) echo "test.sh: unknown stage '$stage'" >&2; exit 2 ;;
  esac
done
echo "=== test.sh: all stages passed: ${stages[*]} ==="
