#!/usr/bin/env bash
# The main job: builds asyncps and reproduces Dist-Keras' MNIST example on
# Fashion-MNIST (ADAG, batch 16, window 5, 5 epochs, Adam, 3 workers) on a local
# cluster of 2 PS shards, then prints the report. Extra flags go to asyncps-local
# (e.g. --epochs 1 for a shorter run, --algo easgd, --report-json FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
# The build's progress goes to stderr (a first build takes several minutes on
# 2 cores); stdout is the training's progress and the report.
# Only the three programs the job runs are built (the tests and benchmarks are
# scripts/test.sh's).
echo "seed-experiment: building asyncps-local, asyncps-server and asyncps-worker in build/ ..." >&2
scripts/build.sh build asyncps-local asyncps-server asyncps-worker >&2
exec build/bin/asyncps-local --algo adag --workers 3 --shards 2 --batch-size 16 --window 5 \
  --epochs 5 --optimizer adam --lr 0.001 "$@"
