#!/usr/bin/env bash
# Prints the commit a benchmark's result set records: HEAD of this checkout.
# A result set records a clean commit: when tracked files differ from HEAD this
# refuses (exit 1, the reason on stderr) unless ASYNCPS_BENCH_ALLOW_DIRTY=1,
# which records "HEAD-dirty" instead. Outside a git checkout: "unknown".
# Every benchmark program asks this script (bench/README.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$root" rev-parse HEAD 2>/dev/null) || { echo unknown; exit 0; }
if [[ -n $(git -C "$root" status --porcelain --untracked-files=no) ]]; then
  if [[ ${ASYNCPS_BENCH_ALLOW_DIRTY:-0} != 1 ]]; then
    echo "bench: $root has uncommitted changes to tracked files; a result set records a clean commit." \
      "Commit them first, or set ASYNCPS_BENCH_ALLOW_DIRTY=1 to record ${commit:0:12}-dirty." >&2
    exit 1
  fi
  commit+=-dirty
fi
echo "$commit"
