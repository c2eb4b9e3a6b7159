#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, ASan+UBSan) and runs the launch fuzzer
# (fuzz/launch_fuzzer.cpp) for N seconds over a copy of its seed corpus.
#   scripts/fuzz.sh            60 s (the CI stage: scripts/test.sh fuzz)
#   scripts/fuzz.sh 3600       a long run
#   scripts/fuzz.sh 600 -use_value_profile=1    extra arguments go to libFuzzer
# Exits non-zero on any crash, sanitizer report, model mismatch, timeout (10 s per input) or
# memory blow-up (4 GiB); the input that did it is saved under build/fuzz/artifacts/ and the
# command to replay it is printed. The full libFuzzer log is build/fuzz/fuzz.log.
# NDL_FUZZ_CORPUS=dir keeps the grown corpus in dir (created if missing) instead of a
# temporary copy; see fuzz/README.md for merging it back into fuzz/corpus/launch.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: the run time must be a whole number of seconds, not '$seconds'" >&2
  exit 2
fi

echo "=== fuzz.sh: building the fuzz preset ==="
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
fuzzer=build/fuzz/fuzz/ndl_launch_fuzzer

if [ -n "${NDL_FUZZ_CORPUS:-}" ]; then
  corpus=$NDL_FUZZ_CORPUS
  mkdir -p "$corpus"
else
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
fi
cp fuzz/corpus/launch/* "$corpus"/
artifacts=build/fuzz/artifacts
mkdir -p "$artifacts"
log=build/fuzz/fuzz.log

echo "=== fuzz.sh: $fuzzer for ${seconds} s over $(ls "$corpus" | wc -l) inputs ==="
set +e
"$fuzzer" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" >"$log" 2>&1
rc=$?
set -e

# Progress lines (pulse, initial and final) and the statistics; the full log is in $log.
grep -E '^#[0-9]+[[:space:]]+(INITED|pulse|DONE)' "$log" || true
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
if [ "$rc" -ne 0 ]; then
  echo "--- last lines of $log:"
  tail -n 60 "$log"
  crash=$(grep -Eo "Test unit written to [^ ]+" "$log" | tail -1 | cut -d' ' -f5)
  echo "fuzz.sh: FAILED (libFuzzer exit status $rc) after ${execs:-?} executions" >&2
  if [ -n "$crash" ]; then
    echo "fuzz.sh: replay with: NDL_FUZZ_TRACE=1 $fuzzer $crash" >&2
  fi
  exit 1
fi
echo "fuzz.sh: ok: ${execs:-?} executions in ${seconds} s (${rate:-?} exec/s), coverage ${cov:-?} edges, no failure"
