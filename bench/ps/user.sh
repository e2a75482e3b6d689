#!/usr/bin/env bash
# asyncps as a user gets it: fresh processes, S=1, FLOATS float32 each way.
# Usage: bench/ps/user.sh OUTDIR [ROUNDS (5)] [SECONDS (2)] [FLOATS (1048853)]
# Installs BUILD_DIR (default: build) into a temporary prefix, builds
# bench/ps/user against it (find_package(asyncps)), starts the installed
# asyncps-server and a raw ZeroMQ REP server (raw_rep), then runs ROUNDS
# rounds, each a fresh process per variant for SECONDS, the variants'
# order rotating every round: the raw REQ client (raw_req), the C++ client
# (user_client) f32 and bf16, the Python client (/usr/bin/python3
# user_client.py, the installed package) f32 and bf16, and the C++ client
# with 512 KiB reply chunks (the default before 2026-12-06). Between rounds
# 2 and 3, asyncps-bench-ps's in-bench group (raw REQ/REP and commit-and-pull
# with the server a process of its own, the client inside the bench) runs once.
# Writes OUTDIR/user.csv (every run), OUTDIR/user.md (medians, ratios to raw,
# load) and OUTDIR/in-bench.md (asyncps-bench-ps's summary).
set -euo pipefail
if [[ $# -lt 1 || $# -gt 4 ]]; then
  echo "usage: $0 OUTDIR [ROUNDS] [SECONDS] [FLOATS]" >&2
  exit 2
fi
out=$1 rounds=${2:-5} seconds=${3:-2} floats=${4:-1048853}
for v in "$rounds" "$floats"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS and FLOATS must be positive integers, got '$v'" >&2; exit 2; }
done
[[ $seconds =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "SECONDS must be a positive number, got '$seconds'" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
commit=$("$root/bench/commit.sh")
mkdir -p "$out"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$here/user" -B "$tmp/user" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/user" -j2 >/dev/null
site=$(echo "$tmp"/prefix/lib/python3*/site-packages)
[[ -d $site/asyncps ]] || { echo "$build installs no Python package: configure it with -DASYNCPS_BUILD_PYTHON=ON" >&2; exit 1; }

"$tmp/prefix/bin/asyncps-server" --bind 'tcp://127.0.0.1:*' --ready-file "$tmp/server.ready" 2>"$tmp/server.log" &
pids+=($!)
"$tmp/user/raw_rep" 'tcp://127.0.0.1:*' "$floats" "$tmp/raw.ready" 2>"$tmp/raw_rep.log" &
pids+=($!)
for _ in $(seq 200); do [[ -s $tmp/server.ready && -s $tmp/raw.ready ]] && break; sleep 0.05; done
[[ -s $tmp/server.ready && -s $tmp/raw.ready ]] || { echo "the servers did not start: $(cat "$tmp"/*.log)" >&2; exit 1; }
ps_endpoint=$(head -1 "$tmp/server.ready") raw_endpoint=$(head -1 "$tmp/raw.ready")

chunked=$((512 * 1024))
variants=(raw cpp-f32 cpp-bf16 python-f32 python-bf16 cpp-f32-chunked cpp-bf16-chunked)
run() {
  case $1 in
    raw) "$tmp/user/raw_req" "$raw_endpoint" "$floats" "$seconds" ;;
    cpp-f32 | cpp-bf16) "$tmp/user/user_client" "$ps_endpoint" "$floats" "${1#cpp-}" "$seconds" ;;
    cpp-*-chunked) local e=${1#cpp-} && "$tmp/user/user_client" "$ps_endpoint" "$floats" "${e%-chunked}" "$seconds" 20 "$chunked" ;;
    python-*) PYTHONPATH=$site /usr/bin/python3 "$here/user/user_client.py" "$ps_endpoint" "$floats" "${1#python-}" "$seconds" ;;
  esac
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "round,variant,round_trips_per_s,minflt_per_rt,cpu_us_per_rt" >"$out/user.csv"
for ((r = 0; r < rounds; r++)); do
  n=${#variants[@]}
  for ((i = 0; i < n; i++)); do
    v=${variants[$(((i + r) % n))]}
    line=$(run "$v")
    read -r _ rate _ faults _ cpu <<<"$line"
    echo "$r,$v,$rate,$faults,$cpu" | tee -a "$out/user.csv" >&2
  done
  if ((r == 1 || (rounds < 2 && r == 0))); then
    "$build/bench/ps/asyncps-bench-ps" --quick \
      --sizes "$floats" --shards 1 --workers 1 --ops raw-req-rep >"$out/in-bench.md" 2>"$tmp/in-bench.log"
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$out" "$commit" "$floats" "$rounds" "$seconds" "$load_before" "$load_after" <<'PY'
import csv, statistics, sys
out, commit, floats, rounds, seconds, before, after = sys.argv[1:]
rows = list(csv.DictReader(open(f"{out}/user.csv")))
med = {}
for v in dict.fromkeys(r["variant"] for r in rows):
    mine = [r for r in rows if r["variant"] == v]
    med[v] = {k: statistics.median(float(r[k]) for r in mine) for k in ("round_trips_per_s", "minflt_per_rt", "cpu_us_per_rt")}
    med[v]["range"] = (min(float(r["round_trips_per_s"]) for r in mine), max(float(r["round_trips_per_s"]) for r in mine))
raw = med["raw"]["round_trips_per_s"]
lines = [f"# asyncps as a user gets it: fresh processes, S=1, {int(floats):,} floats each way",
         "",
         f"Commit {commit}; {rounds} rounds of {seconds} s per process, variants interleaved; "
         f"load average (1, 5, 15 min) {before} before, {after} after.",
         "",
         "| variant | round trips/s (median) | min-max | / raw | minor faults per round trip | CPU us per round trip (client) |",
         "|---|---:|---:|---:|---:|---:|"]
for v, m in med.items():
    lines.append(f"| {v} | {m['round_trips_per_s']:.0f} | {m['range'][0]:.0f}-{m['range'][1]:.0f} | "
                 f"{m['round_trips_per_s'] / raw:.2f}x | {m['minflt_per_rt']:.2f} | {m['cpu_us_per_rt']:.0f} |")
open(f"{out}/user.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "In the same minutes, asyncps-bench-ps (the client inside the bench; $out/in-bench.md):"
sed -n '/^### Separate processes/,/^### Payload sweep/p' "$out/in-bench.md" | grep -E '^\|'
