#!/usr/bin/env bash
# Configures and builds asyncps (Release) in build/ (or $1); with targets after
# the folder, builds only those.
# Usage: scripts/build.sh [build-dir [target...]]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
