#!/usr/bin/env bash
# The main job: sets up a fresh machine, builds ndlaunch (release preset) and runs the demo,
# which launches kernels on every available device and prints what ran where and how long
# it took.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target ndl_demo
./build/release/examples/ndl_demo "$@"
