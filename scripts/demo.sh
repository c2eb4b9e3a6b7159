#!/usr/bin/env bash
# The main job: sets up a fresh machine, builds ndlaunch and runs the demo, which launches
# kernels on every available device and prints what ran where and how long it took. With the
# CUDA toolkit installed it builds the cuda preset (the demo then also runs on every NVIDIA
# GPU present); without it, the release preset (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
preset=release
command -v nvcc >/dev/null && preset=cuda
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target ndl_demo
"./build/$preset/examples/ndl_demo" "$@"
