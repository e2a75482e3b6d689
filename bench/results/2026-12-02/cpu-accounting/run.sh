#!/usr/bin/env bash
# Where the CPU goes in one epoch of the seed experiment, with no PS (--algo single)
# and with ADAG over shared memory: perf samples by process and the worker's top
# symbols. Usage: BUILD_DIR=build bench/results/2026-12-02/cpu-accounting/run.sh > out.txt
# (needs linux-perf; the perf.data files go to a temporary folder).
set -euo pipefail
local_bin=${BUILD_DIR:-build}/models/launcher/asyncps-local
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(--workers 3 --shards 2 --batch-size 16 --window 5 --epochs 1 --optimizer adam --lr 0.001)
for algo in single adag; do
  echo "# --algo $algo (load $(cut -d' ' -f1-3 /proc/loadavg))"
  perf record -q -o "$tmp/$algo.data" "$local_bin" --algo "$algo" "${flags[@]}" 2>&1 | grep -E 'Training time|updates:'
  perf report -i "$tmp/$algo.data" --no-children --stdio --sort comm 2>/dev/null | grep -E '^ +[0-9]|^# Samples'
  echo "## asyncps-worker, top symbols (% of all samples)"
  perf report -i "$tmp/$algo.data" --no-children --stdio --comm asyncps-worker --sort sym 2>/dev/null |
    grep -E '^ +[0-9]' | sort -rn | head -22
done
