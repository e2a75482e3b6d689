#!/usr/bin/env bash
# What stands between the seed experiment and 60 s on 2 cores: the worker compute
# of 1, 2 and 3 concurrent processes (asyncps-bench-compute, batch 16, Adam, one
# thread each), and 3 processes given 200 ms turns (2 run, 1 stopped, rotating).
# Usage: BUILD_DIR=build bench/results/2026-12-02/oversubscription/run.sh > out.txt
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${BUILD_DIR:-build}/bench/compute/asyncps-bench-compute
args=(--batch 16 --optimizer adam --repeats 3 --min-seconds 2)
concurrent() {
  echo "## $1 concurrent (load $(cut -d' ' -f1-3 /proc/loadavg))"
  for _ in $(seq "$1"); do "$bin" "${args[@]}" & done
  wait
}
for round in 1 2 3; do
  echo "# round $round: columns: optimizer batch samples/s(wall) samples/s(per CPU-second)"
  concurrent 1
  concurrent 2
  concurrent 3
  echo "## 3 in 200 ms turns (load $(cut -d' ' -f1-3 /proc/loadavg))"
  /usr/bin/python3 "$here/turns.py" 0.2 "$bin" "${args[@]}"
done
