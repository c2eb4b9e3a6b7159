#!/usr/bin/env bash
# Copies the GPU-relevant binaries of a CUDA build, and the shared libraries they need that a
# bare GPU host may lack, into one folder that can travel to a GPU machine:
#   scripts/stage-gpu.sh build/cuda .gpu
# Then, on the GPU machine: .gpu/run-suite.sh  (runs tests, examples, compute-sanitizer, benchmark)
set -euo pipefail
build=${1:?build dir}
out=${2:?output dir}
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
cp "$build"/tests/ndl_cuda_tests "$build"/tests/ndl_api_tests "$build"/tests/ndl_unit_tests \
  "$build"/tests/ndl_stress_tests "$out/bin/"
# Examples and the benchmark when the build has them (a checked build may not).
cp "$build"/examples/ndl_example_* "$build"/examples/ndl_demo "$out/bin/" 2>/dev/null || true
cp "$build"/benchmarks/ndl_bench_cuda_launch "$out/bin/" 2>/dev/null || true
for lib in $(ldd "$out"/bin/* | awk '/=>/ {print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libgcc_s.so*|libstdc++.so*) ;;
    # NVRTC (over 100 MB) comes with the CUDA toolkit of the GPU host (run-suite.sh adds it).
    libnvrtc*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
cp "$(dirname "$0")/gpu-suite.sh" "$out/run-suite.sh"
# Kernels compiled at run time (rt_kernel_test) include ndlaunch's headers.
cp -r "$(dirname "$0")/../include" "$out/include"
echo "staged $(ls "$out/bin" | wc -l) binaries and $(ls "$out/lib" | wc -l) libraries in $out"
