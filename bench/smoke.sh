#!/usr/bin/env bash
# Every benchmark program, once, at tiny sizes (about a minute): CI runs this so
# that no benchmark rots. The figures it prints mean nothing; real runs are
# bench/suite/run.sh (docs/performance.md has the commands and figures).
# Usage: bench/smoke.sh [BUILD_DIR]   (default build; needs the Release build
#        with benchmarks and the Python package, as scripts/test.sh makes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
python=${PYTHON:-/usr/bin/python3}
out=$(mktemp -d)
export ASYNCPS_BENCH_ALLOW_DIRTY=1  # nothing here is kept as a result set
trap 'rm -rf "$out"' EXIT
start=$SECONDS
run() {
  local name=$1
  shift
  echo "::: bench smoke: $name" >&2
  timeout 300 "$@" > "$out/$name.log" 2>&1 || { tail -n 40 "$out/$name.log" >&2; echo "bench smoke: $name failed" >&2; exit 1; }
}
run ps "$build/bench/ps/asyncps-bench-ps" --sizes 1024 --shards 1 --workers 1 --trials 1 --seconds 0.05 \
  --json "$out/ps.json" --csv "$out/ps.csv"
"$python" -c "import json, sys; d = json.load(open(sys.argv[1])); assert d, 'empty'" "$out/ps.json"
run load "$build/bench/load/asyncps-bench-load" --clients 4 --seconds 0.5 --floats 1024
run compute "$root/bench/compute/run.sh" "$build" --repeats 1 --min-seconds 0.1 --batch 16 --optimizer sgd
run suite env BUILD_DIR="$build" "$python" "$root/bench/suite/suite.py" seed "$out/suite" --algos adag single \
  --workers 1 --epochs 1 --train-limit 320 --test-limit 200 --repeats 1 --curve-epochs
run suite-summary "$python" "$root/bench/suite/suite.py" summary "$out/suite"
run python env PYTHONPATH="$build/python" "$python" "$root/bench/python/bench_torch.py" "$out/python" --repeats 1 \
  --train-limit 320 --epochs 1 --workers 1 --local-bin "$build/bin/asyncps-local"
echo "bench smoke: every program ran ($((SECONDS - start)) s)" >&2
