#!/usr/bin/env bash
# Installs what ndlaunch needs to build, test and benchmark on Debian 12 (or Ubuntu).
# Idempotent: packages already present are skipped.
set -euo pipefail

# clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes; only recommended by
# clang-14 on Debian 12, so not pulled in with --no-install-recommends): the fuzz stage.
packages=(cmake ninja-build g++ clang-format libgtest-dev libbenchmark-dev libomp-dev libboost-context-dev git
          clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The Python package (test stage `python`): a python3 with pip and its C headers. A pyenv or
# other non-system Python that has them is used as it is; otherwise Debian's.
if ! python3 -m pip --version >/dev/null 2>&1 ||
   ! python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  echo "setup: installing python3-pip python3-dev"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-pip python3-dev
fi
