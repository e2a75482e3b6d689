#!/usr/bin/env bash
# Scaling: samples/s and time-to-accuracy for W = 1..N workers, and in the same run the
# compute ceiling: W independent asyncps-local --algo single --workers 1 processes at once
# (their total samples/s), PS total / independent total (target >= 0.9), and PyTorch 1.13 with
# one and with all threads at batch 16. One script, meant to run as is on a 16-core machine.
#
# usage: bench/suite/scaling.sh OUTDIR [--workers "1 2 4 8 12"] [--algo adag] [--window 5]
#            [--shards 2] [--train-limit 12000] [--test-limit 2000] [--repeats 3]
#            [--target-accuracy 0.80] [--max-epochs 3] [--no-torch] [--ps-flags "--pull-encoding bf16 ..."]
# W above nproc is skipped (and said so). Writes OUTDIR/scaling.{json,csv,md,log}, scaling.png;
# the machine (hostname, nproc, CPU model, commit, date) is in each file.
# Env: BUILD_DIR (default build), PYTHON (python with torch).
set -euo pipefail
if [[ $# -lt 1 || $1 == --* ]]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$1
shift
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) shift; while [[ $# -gt 0 && $1 != --* ]]; do args+=(--workers); for w in $1; do args+=("$w"); done; shift; done ;;
    *) args+=("$1"); shift ;;
  esac
done
# --workers "1 2" and --workers 1 2 both work; argparse keeps the last --workers list, so merge them
ws=() rest=() i=0
while [[ $i -lt ${#args[@]} ]]; do
  if [[ ${args[$i]} == --workers ]]; then i=$((i + 1)); while [[ $i -lt ${#args[@]} && ${args[$i]} != --* ]]; do ws+=("${args[$i]}"); i=$((i + 1)); done
  else rest+=("${args[$i]}"); i=$((i + 1)); fi
done
[[ ${#ws[@]} -gt 0 ]] && rest+=(--workers "${ws[@]}")
exec python3 "$here/suite.py" scaling "$out" "${rest[@]}"
