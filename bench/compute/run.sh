#!/usr/bin/env bash
# Training throughput of the seed CNN: asyncps vs PyTorch 1.13, one thread each.
#
# usage: bench/compute/run.sh [BUILD_DIR] [--repeats N] [--min-seconds S]
#                             [--batch 16,32,128] [--optimizer sgd,adam] [--model FILE.json]
#   --model: a Keras model.to_json() file instead of the seed CNN (both sides build it)
#   BUILD_DIR: where asyncps-bench-compute was built (default: build, then build-models)
# Env: PYTHON (default /usr/bin/python3, Debian's python with torch).
#
# Each (optimizer, batch) runs asyncps then PyTorch back to back, on the same
# model, batch and optimizer (SGD lr 0.01; Adam lr 0.001, eps 1e-7), consecutive
# batches of the real Fashion-MNIST training set (PyTorch with its defaults, a
# plain training loop, every thread pool pinned to one thread: torch's and, with
# threadpoolctl, OpenBLAS's); every figure is the median of the repeats. Prints a
# markdown table: samples/s of wall time and of process CPU time ("CPU"), and the
# ratio of each. With every pool pinned the two ratios agree within noise; the
# wall one is the figure to quote (docs/performance.md, compute). Last, PyTorch
# again with torch.set_flush_denormal(True) (wall), as asyncps computes: denormal
# numbers flushed to zero, as TensorFlow does; PyTorch's default keeps them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build=""
if [[ $# -gt 0 && "$1" != --* ]]; then build="$1"; shift; fi
repeats=5 min_seconds=1.0 batches=16,32,128 optimizers=sgd,adam model=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeats) repeats="$2"; shift 2 ;;
    --min-seconds) min_seconds="$2"; shift 2 ;;
    --batch) batches="$2"; shift 2 ;;
    --optimizer) optimizers="$2"; shift 2 ;;
    --model) model=(--model "$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
bin=""
for dir in ${build:+"$build"} "$root/build" "$root/build-models"; do
  if [[ -x "$dir/bench/compute/asyncps-bench-compute" ]]; then bin="$dir/bench/compute/asyncps-bench-compute"; break; fi
done
if [[ -z "$bin" ]]; then
  echo "asyncps-bench-compute not found: build it first (cmake --build build --target asyncps-bench-compute)" >&2
  exit 1
fi
python="${PYTHON:-/usr/bin/python3}"
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "$python cannot import torch: apt install python3-torch (or set PYTHON)" >&2
  exit 1
fi
if ! "$python" -c 'import threadpoolctl' 2>/dev/null; then
  echo "$python cannot import threadpoolctl (to pin PyTorch's BLAS threads): apt install python3-threadpoolctl" >&2
  exit 1
fi

common=(--repeats "$repeats" --min-seconds "$min_seconds" ${model[@]+"${model[@]}"})
echo "model: ${model[1]:-the seed CNN}"
commit=$("$root/bench/commit.sh")
echo "asyncps ${commit:0:12}, torch $("$python" -c 'import torch; print(torch.__version__)'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| optimizer | batch | asyncps samples/s | PyTorch samples/s | ratio | asyncps CPU | PyTorch CPU | ratio (CPU) | PyTorch flushing denormals | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
IFS=, read -ra opts <<< "$optimizers"
IFS=, read -ra bs <<< "$batches"
for opt in "${opts[@]}"; do
  for b in "${bs[@]}"; do
    read -r _ _ _ ours ours_cpu < <("$bin" --threads 1 --batch "$b" --optimizer "$opt" "${common[@]}")
    torch_bench=(env OMP_NUM_THREADS=1 "$python" "$here/torch_bench.py" --threads 1 --batch "$b" --optimizer "$opt" "${common[@]}")
    read -r _ _ _ theirs theirs_cpu < <("${torch_bench[@]}")
    read -r _ _ _ flushing _ < <("${torch_bench[@]}" --flush-denormal)
    awk -v o="$opt" -v b="$b" -v a="$ours" -v t="$theirs" -v ac="$ours_cpu" -v tc="$theirs_cpu" -v f="$flushing" \
      'BEGIN { printf "| %s | %d | %.0f | %.0f | %.2fx | %.0f | %.0f | %.2fx | %.0f | %.2fx |\n", o, b, a, t, a / t, ac, tc, ac / tc, f, a / f }'
  done
done
