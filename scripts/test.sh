#!/usr/bin/env bash
# Builds asyncps (Release) and runs the test suite with ctest.
# Usage: scripts/test.sh [--quick] [build-dir] [-- ctest arguments...]
#   --quick   only the unit tier (ctest -L unit): under a minute once built.
# The tiers are ctest labels (tests/CMakeLists.txt): unit, integration, e2e,
# python, slow, concurrency; e.g. scripts/test.sh build -- -L integration.
# A test whose data set or Python module is missing is reported as skipped;
# ASYNCPS_REQUIRE_DATA=1 (as in CI) makes it a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [[ "${1:-}" == "--quick" ]]; then quick=1; shift; fi
build=build
if [[ $# -gt 0 && "$1" != "--" ]]; then build=$1; shift; fi
[[ "${1:-}" == "--" ]] && shift
scripts/build.sh "$build"
labels=()
((quick)) && labels=(-L unit)
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "${labels[@]}" "$@"
