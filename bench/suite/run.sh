#!/usr/bin/env bash
# The whole benchmark suite in one go: PS throughput, worker compute against PyTorch, the
# seed's table (+ accuracy against time, memory), scaling against independent processes.
#
# usage: bench/suite/run.sh OUTDIR [--quick] [--algos "adag single ..."] [--workers "1 2 3 4"]
#            [--repeats N] [--epochs E] [--train-limit ROWS] [--curve-epochs "1 2 3 4 5"]
#            [--scaling-workers "1 2 4 8 12"] [--skip "ps compute seed compression scaling"]
#
# Writes OUTDIR/{ps,compute,scaling}/..., OUTDIR/seed.{json,csv,md}, curve.csv, memory.{json,md},
# compression.{json,csv,md} (the seed experiment with bf16 and top-1% wire payloads),
# PNG plots and OUTDIR/summary.md (printed at the end). Every JSON carries the machine
# (nproc, CPU model, git commit, date) and the settings.
# --quick: bench/ps --quick; bench/compute 3 repeats of 0.5 s; the seed's table on 6,000 rows,
# 1 epoch, W in {1,2}; accuracy-vs-time with 1 and 2 epochs at W=2; the compressed wire at W=2
# on 6,000 rows, 2 repeats; scaling W in {1,2} on 6,000 rows, 3 repeats. About 8-10 minutes.
# Full: the seed's settings (60,000 rows, 5 epochs, batch 16, Adam 0.001, W in {1,2,3,4},
# windows 5 for downpour/adag/dynsgd and the Dist-Keras default 32 for easgd/eamsgd) and
# accuracy-vs-time with 1..5 epochs at W=3; the seed experiment with each wire compression,
# 3 repeats (~16 min here): see bench/README.md for its runtime.
# Env: BUILD_DIR (default build), PYTHON (python with torch for bench/compute).
set -euo pipefail
if [[ $# -lt 1 || $1 == --* ]]; then
  sed -n '2,20p' "$0" >&2
  exit 2
fi
out=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quick="" algos="" workers="" repeats="" epochs="" rows="" curve="" curve_set="" swork="" skip=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=--quick; shift ;;
    --algos) algos=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --train-limit) rows=$2; shift 2 ;;
    --curve-epochs) curve=$2; curve_set=1; shift 2 ;;
    --scaling-workers) swork=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
build=${BUILD_DIR:-$root/build}
for t in bench/ps/asyncps-bench-ps bench/compute/asyncps-bench-compute bin/asyncps-local \
         bin/asyncps-worker bin/asyncps-server; do
  [[ -x $build/$t ]] || { echo "$build/$t missing: cmake --build $build --target $(basename "$t")" >&2; exit 1; }
done
mkdir -p "$out"
start=$(date +%s)
skipped() { [[ " $skip " == *" $1 "* ]]; }
stamp() { echo "=== $1 ($(( $(date +%s) - start )) s into the suite, load $(cut -d' ' -f1 /proc/loadavg))" >&2; }

if ! skipped ps; then
  stamp "1. PS throughput: bench/ps/run.sh $out/ps $quick"
  BUILD_DIR=$build "$root/bench/ps/run.sh" "$out/ps" $quick >/dev/null
fi
if ! skipped compute; then
  mkdir -p "$out/compute"
  copts=()
  [[ -n $quick ]] && copts=(--repeats 3 --min-seconds 0.5 --optimizer adam)
  stamp "2. worker compute: bench/compute/run.sh $build ${copts[*]}"
  "$root/bench/compute/run.sh" "$build" "${copts[@]}" | tee "$out/compute/compute.md.tmp" >/dev/null
  {
    echo "\`bench/compute/run.sh ${copts[*]}\` (one thread each; median of the repeats)"
    echo
    cat "$out/compute/compute.md.tmp"
  } >"$out/compute/compute.md"
  # the table as CSV too
  {
    echo "optimizer,batch,asyncps_sps,pytorch_sps,ratio,asyncps_cpu_sps,pytorch_cpu_sps,ratio_cpu,machine_line"
    head -1 "$out/compute/compute.md.tmp" | tr ',' ';' >/tmp/.suite_machine.$$
    grep -E '^\| (sgd|adam) ' "$out/compute/compute.md.tmp" | tr -d 'x ' | awk -F'|' -v m="$(cat /tmp/.suite_machine.$$)" \
      '{ printf "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", $2, $3, $4, $5, $6, $7, $8, $9, m }'
    rm -f /tmp/.suite_machine.$$
  } >"$out/compute/compute.csv"
  rm -f "$out/compute/compute.md.tmp"
fi
if ! skipped seed; then
  sopts=($quick)
  [[ -n $algos ]] && sopts+=(--algos $algos)
  [[ -n $workers ]] && sopts+=(--workers $workers)
  [[ -n $repeats ]] && sopts+=(--repeats "$repeats")
  [[ -n $epochs ]] && sopts+=(--epochs "$epochs")
  [[ -n $rows ]] && sopts+=(--train-limit "$rows")
  [[ -n $curve_set ]] && sopts+=(--curve-epochs $curve)  # "" = no curve runs
  stamp "3+4. seed table, accuracy vs time, memory: suite.py seed $out ${sopts[*]}"
  BUILD_DIR=$build python3 "$here/suite.py" seed "$out" "${sopts[@]}" >/dev/null
fi
if ! skipped compression; then
  zopts=($quick)
  [[ -n $repeats ]] && zopts+=(--repeats "$repeats")
  stamp "6. compressed wire on the seed experiment: suite.py compression $out ${zopts[*]}"
  BUILD_DIR=$build python3 "$here/suite.py" compression "$out" "${zopts[@]}" >/dev/null
fi
if ! skipped scaling; then
  scopts=()
  if [[ -n $swork ]]; then scopts+=(--workers $swork); elif [[ -n $quick ]]; then scopts+=(--workers 1 2); fi
  [[ -n $quick ]] && scopts+=(--train-limit 6000 --max-epochs 2 --target-accuracy 0.75)
  stamp "5. scaling: bench/suite/scaling.sh $out/scaling ${scopts[*]}"
  BUILD_DIR=$build "$here/scaling.sh" "$out/scaling" "${scopts[@]}" >/dev/null
fi
stamp "summary"
BUILD_DIR=$build python3 "$here/suite.py" summary "$out" $quick --command-outdir "$out"
echo "suite time: $(( $(date +%s) - start )) s; results in $out (summary.md)" | tee -a "$out/summary.md"
