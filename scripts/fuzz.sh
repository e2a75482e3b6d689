#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and fuzzes them for a bounded time.
# Usage: scripts/fuzz.sh [seconds=60] [build-dir=build-fuzz]
#   seconds   total fuzzing time, split across the targets (at least 1 s each):
#             3/10 shard_fuzzer (the server's request path), 1/10 reply_fuzzer
#             (the client's reply path), 1/10 checkpoint_fuzzer (a shard's
#             restart from its checkpoint), 1/10 http_request_fuzzer (the HTTP
#             endpoints' request handling), 2/10 keras_json_fuzzer and the rest
#             keras_h5_fuzzer (the Keras model readers: --model m.json / m.h5)
# Starts from the committed seeds in fuzz/corpus/; new inputs go to
# BUILD/fuzz-corpus/ (not committed). A crash stops the script with a non-zero
# status and leaves the input in BUILD/fuzz-artifacts/: replay it with
# BUILD/fuzz/<target> FILE, then commit it as a regression test (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${2:-build-fuzz}
cxx=${CXX_FUZZ:-$(command -v clang++ || command -v clang++-14)}

# models/ is built too (with clang, instrumented): the Keras targets need it.
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASYNCPS_FUZZ=ON \
  -DASYNCPS_BUILD_TESTS=OFF -DASYNCPS_BUILD_MODELS=ON -DASYNCPS_BUILD_BENCH=OFF >/dev/null
# target:tenths of the time:largest input (bytes; the .h5 seeds are ~14 KB):timeout per input (s)
targets=(shard:3:4096:10 reply:1:4096:10 checkpoint:1:4096:10 http_request:1:4096:10 keras_json:2:16384:10 keras_h5:2:16384:10)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/%:*/_fuzzer}"

export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp}
mkdir -p "$build/fuzz-artifacts"
spent=0
for i in "${!targets[@]}"; do
  IFS=: read -r t tenths max_len timeout <<<"${targets[$i]}"
  if ((i == ${#targets[@]} - 1)); then budget=$((seconds - spent)); else budget=$((seconds * tenths / 10)); fi
  ((budget > 0)) || budget=1
  spent=$((spent + budget))
  mkdir -p "$build/fuzz-corpus/$t"
  echo "== ${t}_fuzzer for ${budget}s"
  rc=0
  "$build/fuzz/${t}_fuzzer" "$build/fuzz-corpus/$t" "fuzz/corpus/$t" \
    -max_total_time="$budget" -max_len="$max_len" -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 \
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
