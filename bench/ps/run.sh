#!/usr/bin/env bash
# Runs the PS throughput benchmark and plots it.
# Usage: bench/ps/run.sh OUTDIR [--quick] [more asyncps-bench-ps flags]
# Writes OUTDIR/ps.md (markdown summary, also printed), ps.json, ps.csv and
# ps_throughput.png. BUILD_DIR (default: build) is where asyncps-bench-ps was built.
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: $0 OUTDIR [--quick] [asyncps-bench-ps flags]" >&2
  exit 2
fi
out=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${BUILD_DIR:-$root/build}/bench/ps/asyncps-bench-ps
if [[ ! -x $bin ]]; then
  echo "$bin not found: build it first (cmake --build ${BUILD_DIR:-build} --target asyncps-bench-ps)" >&2
  exit 1
fi
mkdir -p "$out"
"$bin" --json "$out/ps.json" --csv "$out/ps.csv" "$@" | tee "$out/ps.md"
if command -v gnuplot >/dev/null; then
  gnuplot -e "csv='$out/ps.csv'; png='$out/ps_throughput.png'" "$here/plot.gp"
  echo "plot: $out/ps_throughput.png" >&2
else
  echo "gnuplot not found (apt-get install gnuplot-nox): no plot" >&2
fi
