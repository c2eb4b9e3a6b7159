#!/usr/bin/env bash
# The whole test suite: sets up a fresh machine, then
#   1. (dev preset, Debug, -Werror: unit + API tests, examples, compile-fail checks; only on
#      request, `scripts/test.sh dev`: every test it runs also runs in the asan stage (Debug,
#      checked mode) and in the cuda stage (Release, unchecked; without a GPU the CPU device
#      runs the whole suite), so the default run builds the suite three times, not four)
#   2. formatting check (clang-format)
#   3. install + find_package(ndl) consumer build
#   python: the Python package (pip install . with nanobind + scikit-build-core), its pytest
#      suite and examples/python on every available device
#   4. asan preset (ASan + UBSan): the same suite
#   5. tsan preset (ThreadSanitizer): the same suite
#   6. cuda preset: the CUDA backend, the API suite, CUDA tests and examples compiled by nvcc;
#      without a GPU the CPU device runs everything and the GPU tests skip, saying why
#   7. fuzz preset (clang, libFuzzer, ASan+UBSan): the launch fuzzer for 60 s over its seed
#      corpus (scripts/fuzz.sh; longer runs: scripts/fuzz.sh 3600)
# Stages can be chosen: scripts/test.sh dev asan (default: all). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(format package python asan tsan cuda fuzz)
# The CUDA toolkit's usual place, when its compiler is not on PATH.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
jobs=$(nproc)

run_preset() {
  local preset=$1
  echo "=== test.sh: $preset ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset"
}

for stage in "${stages[@]}"; do
  stage_start=$SECONDS
  case "$stage" in
    dev|asan|tsan|release) run_preset "$stage" ;;
    cuda)
      if ! command -v nvcc >/dev/null; then
        echo "test.sh: the cuda stage needs the CUDA toolkit (nvcc); none found" >&2
        exit 1
      fi
      run_preset cuda
      ;;
    fuzz)
      echo "=== test.sh: fuzz ==="
      ./scripts/fuzz.sh 60
      ;;
    python)
      echo "=== test.sh: python ==="
      # Debian's own python3 refuses pip installs outside a virtual environment (PEP 668);
      # this machine is a throwaway test host, so install into it all the same.
      export PIP_BREAK_SYSTEM_PACKAGES=1
      python3 -m pip install --quiet --disable-pip-version-check numpy pytest pytest-timeout \
        nanobind scikit-build-core
      # The package's build directory (build/python) is kept: re-runs rebuild incrementally.
      python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps .
      python3 -m pytest tests/python -q
      for example in examples/python/*.py; do
        echo "--- $example"
        python3 "$example"
      done
      ;;
    format)
      echo "=== test.sh: clang-format ==="
      git ls-files '*.hpp' '*.cpp' '*.cu' | xargs clang-format --dry-run --Werror
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
  echo "=== test.sh: $stage took $((SECONDS - stage_start)) s ==="
done
echo "=== test.sh: all stages passed: ${stages[*]} ==="
