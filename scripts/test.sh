#!/usr/bin/env bash
# Builds asyncps (Release) and runs the whole test suite with ctest.
# Usage: scripts/test.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
scripts/build.sh "$build"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
