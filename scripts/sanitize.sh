#!/usr/bin/env bash
# Builds asyncps with sanitizers and runs the whole test suite (ctest) under them.
# Usage: scripts/sanitize.sh address|thread [build-dir] [--label L] [--no-models]
#   address      ASan + UBSan (and LeakSanitizer); default build dir build-asan
#   thread       TSan; default build dir build-tsan
#   --label L    run only the tests labelled L (tests/CMakeLists.txt), e.g. CI's
#                TSan leg: scripts/sanitize.sh thread build-tsan --label concurrency --no-models
#   --no-models  build without models/ and the binaries over it (worker, launcher)
# Every finding fails the run (halt_on_error). Suppressions, for third-party
# code only, live in scripts/sanitizers/*.supp with the reason for each.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
case "$kind" in
  address) default_build=build-asan ;;
  thread) default_build=build-tsan ;;
  *) echo "usage: scripts/sanitize.sh address|thread [build-dir]" >&2; exit 2 ;;
esac
shift
build=$default_build
if [[ $# -gt 0 && $1 != --* ]]; then build=$1; shift; fi
ctest_args=()
models=ON
while [[ $# -gt 0 ]]; do
  case $1 in
    --label) ctest_args+=(-L "$2"); shift 2 ;;
    --no-models) models=OFF; shift ;;
    *) echo "sanitize.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
supp="$PWD/scripts/sanitizers"
jobs=$(nproc)

start=$(date +%s)
if [[ $kind == thread ]]; then
  # What tsan.supp claims, in seconds: libzmq's own reports suppressed, our
  # zero-copy release callbacks (annotated) clean, unannotated ones reported.
  check="$build/tsan_zmq_handoff"
  mkdir -p "$build"
  g++ -std=c++20 -O1 -g -fsanitize=thread scripts/sanitizers/tsan_zmq_handoff.cpp -o "$check" -lzmq
  TSAN_OPTIONS="suppressions=$supp/tsan.supp" "$check" --curve >/dev/null
  if TSAN_OPTIONS="suppressions=$supp/tsan.supp:halt_on_error=1" "$check" --no-annotations >/dev/null 2>&1; then
    echo "sanitize.sh: tsan.supp hides races in release callbacks (tsan_zmq_handoff --no-annotations passed)" >&2
    exit 1
  fi
fi
# -g1: line tables are all a sanitizer's stack traces need; full debug
# information costs a quarter more compile time (models/src/conv2d.cpp under
# ASan: 10.6 s with -g, 8.0 s with -g1), and CI's time is bounded.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DASYNCPS_SANITIZE="$kind" \
  -DASYNCPS_BUILD_MODELS="$models" -DASYNCPS_BUILD_BENCH=OFF -DASYNCPS_BUILD_TESTS=ON >/dev/null
cmake --build "$build" -j"$jobs"
built=$(date +%s)

# handle_sigbus=0: the shard catches SIGBUS from a shrunk shared-memory segment
# itself (transport/include/asyncps/transport/sigbus_guard.h); ASan must leave it that signal.
export ASAN_OPTIONS="handle_sigbus=0:detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0"
# Sanitized code runs several times slower: each test has more time
# (tests/CMakeLists.txt). Under TSan, training runs about 50x slower: the
# tests' limits on whole training runs stretch 12x (tests/support/time_scale.h).
if [[ $kind == thread ]]; then export ASYNCPS_TEST_TIME_SCALE=12; fi
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 1500 "${ctest_args[@]}"
echo "sanitize.sh $kind: build $((built - start)) s, tests $(($(date +%s) - built)) s"
