#!/usr/bin/env bash
# Runs on a GPU machine over a folder made by scripts/stage-gpu.sh: the CUDA tests, the API
# tests (every device), the unit and stress tests, every example on every device, the same
# under compute-sanitizer (memcheck, racecheck), then the CUDA launch benchmark. Logs go to
# $OUT (or ./gpu-logs).
# Usage: .gpu/run-suite.sh [tests|sanitizer|bench|all]...
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
# Kernels compiled at run time (rt_kernel_test) need ndlaunch's headers (staged with the binaries).
export NDL_TEST_INCLUDE_DIR="${NDL_TEST_INCLUDE_DIR:-$here/include}"
logs=${OUT:-$PWD/gpu-logs}
mkdir -p "$logs"
status=0
step() {  # step NAME COMMAND...: runs, logs, records failure
  local name=$1
  shift
  if "$@" >"$logs/$name.log" 2>&1; then
    echo "PASS $name"
  else
    echo "FAIL $name (exit $?; last lines follow)"
    tail -25 "$logs/$name.log"
    status=1
  fi
}
what=${*:-all}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
if [[ $what == *tests* || $what == all ]]; then
  step cuda_tests "$here/bin/ndl_cuda_tests"
  # A test that hangs the GPU must not hang the run: each binary gets a time limit.
  step api_tests timeout 300 "$here/bin/ndl_api_tests"
  step unit_tests timeout 120 "$here/bin/ndl_unit_tests"
  step stress_tests timeout 600 "$here/bin/ndl_stress_tests"
  for ex in "$here"/bin/ndl_example_* "$here/bin/ndl_demo"; do
    [ -x "$ex" ] && step "$(basename "$ex")" "$ex"
  done
fi
if [[ " $what " == *" sanitizer "* || $what == all ]]; then
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  # The device-lost probe faults on purpose and the out-of-memory test fails an allocation on
  # purpose (memcheck reports both); they are checked without the sanitizer above.
  step memcheck_cuda_tests "$cs" --tool memcheck --error-exitcode 9 \
    "$here/bin/ndl_cuda_tests" --gtest_filter=-*sticky_error*:*2_pow_31*:*out_of_memory*
  step racecheck_cuda_tests "$cs" --tool racecheck --error-exitcode 9 \
    "$here/bin/ndl_cuda_tests" --gtest_filter=*matmul*:*atomics*:*strided*
  for ex in matmul sum_reduction_tree scan atomic_op; do
    step "memcheck_$ex" "$cs" --tool memcheck --error-exitcode 9 "$here/bin/ndl_example_$ex" cuda
    step "racecheck_$ex" "$cs" --tool racecheck --error-exitcode 9 "$here/bin/ndl_example_$ex" cuda
  done
fi
# The API suite's GPU half under the sanitizers. Death tests re-run the test binary in a child
# process, which hangs under compute-sanitizer (that, not the sanitizer's speed, once made
# memcheck look like it needed hours), and one test bounds a launch to 10 s while asking for
# 256-byte-aligned local memory, whose launch racecheck fails to track (it reports an internal
# error and never finishes it): both are left out. racecheck also leaves out the test of two
# threads launching and synchronizing at once: in about one run of five, compute-sanitizer
# deadlocks there inside the driver (2026-11-27, CUDA 13.0, driver 580: both test threads in
# cudaStreamSynchronize, one of them inside racecheck's callback; no ndlaunch lock held; the
# test passes natively 300 times in a row and under memcheck). Each takes seconds on an H100
# (memcheck 148 tests, racecheck 49).
if [[ $what == *sanitizer* || $what == all ]]; then
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  skip='-*default_constructed_array_argument_is_an_error_not_a_crash*:*swallowing_the_unwind*'
  # API errors are provoked on purpose there; memory errors are what is checked.
  step memcheck_api_tests_gpu timeout 600 "$cs" --tool memcheck --report-api-errors no \
    --error-exitcode 9 "$here/bin/ndl_api_tests" --gtest_filter="*cuda_*$skip"
  step racecheck_api_tests_gpu timeout 600 "$cs" --tool racecheck --error-exitcode 9 \
    "$here/bin/ndl_api_tests" \
    --gtest_filter="*barrier*cuda_*:*local_accessor*cuda_*:*atomic*cuda_*:*private_array*cuda_*:*nd_range*cuda_*$skip:*aligned_beyond_a_cache_line*:*concurrent_launches_from_two_threads*"
fi
if [[ $what == *bench* || $what == all ]]; then
  step bench_cuda_launch "$here/bin/ndl_bench_cuda_launch" --json="$logs/cuda_launch.json"
  cat "$logs/bench_cuda_launch.log"
fi
exit $status
