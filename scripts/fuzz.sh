#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and fuzzes them for a bounded time.
# Usage: scripts/fuzz.sh [seconds=60] [build-dir=build-fuzz]
#   seconds   total fuzzing time: 3/4 to shard_fuzzer (the server's request path),
#             1/4 to reply_fuzzer (the client's reply path)
# Starts from the committed seeds in fuzz/corpus/; new inputs go to
# BUILD/fuzz-corpus/ (not committed). A crash stops the script with a non-zero
# status and leaves the input in BUILD/fuzz-artifacts/: replay it with
# BUILD/fuzz/shard_fuzzer FILE, then commit it as a regression test (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${2:-build-fuzz}
cxx=${CXX_FUZZ:-$(command -v clang++ || command -v clang++-14)}

cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASYNCPS_FUZZ=ON \
  -DASYNCPS_BUILD_TESTS=OFF -DASYNCPS_BUILD_MODELS=OFF -DASYNCPS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target shard_fuzzer reply_fuzzer

mkdir -p "$build/fuzz-artifacts"
for t in shard reply; do
  if [[ $t == shard ]]; then budget=$((seconds * 3 / 4)); else budget=$((seconds - seconds * 3 / 4)); fi
  ((budget > 0)) || budget=1
  mkdir -p "$build/fuzz-corpus/$t"
  echo "== ${t}_fuzzer for ${budget}s"
  rc=0
  "$build/fuzz/${t}_fuzzer" "$build/fuzz-corpus/$t" "fuzz/corpus/$t" \
    -max_total_time="$budget" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/${t}-" >"$build/fuzz-$t.log" 2>&1 || rc=$?
  grep -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done )' \
    "$build/fuzz-$t.log" || true
  if ((rc != 0)); then
    tail -n 60 "$build/fuzz-$t.log" >&2
    echo "${t}_fuzzer failed (status $rc): the input is in $build/fuzz-artifacts/, the log in $build/fuzz-$t.log" >&2
    exit 1
  fi
done
echo "fuzzing passed"
