#!/bin/bash
# The Dense small-batch kernels, before (OLD build tree, main at 1068b1b) and after
# (NEW build tree), interleaved round by round on one machine:
#   compute: asyncps-bench-compute (Adam, batch 16, one thread, 3 x 1 s) for both builds and
#            PyTorch's plain loop (bench/compute/torch_bench.py, one thread, real data);
#   seed:    the whole seed experiment (asyncps-local, ADAG, 3 workers, 2 shards, shared memory)
#            with both builds, and the new build with --algo single (no PS at all).
# Usage: ab.sh OLD_BUILD NEW_BUILD [COMPUTE_ROUNDS] [SEED_ROUNDS]   (run from the repository root)
set -u
old=$1 new=$2 compute_rounds=${3:-5} seed_rounds=${4:-3}
load() { cut -d' ' -f1-3 /proc/loadavg; }
seed() {  # BUILD ALGO
  "$1/models/launcher/asyncps-local" --algo "$2" --workers 3 --shards 2 --batch-size 16 --window 5 \
    --epochs 5 --optimizer adam --lr 0.001 --save-weights /tmp/ab-weights.npz 2>&1 |
    grep -E '^(Training time|Accuracy|Number of)' | tr '\n' ' '
  echo
}
for r in $(seq "$compute_rounds"); do
  echo "compute round $r load $(load)"
  "$old/bench/compute/asyncps-bench-compute" --batch 16 --optimizer adam --repeats 3 | sed 's/^/old /'
  "$new/bench/compute/asyncps-bench-compute" --batch 16 --optimizer adam --repeats 3 | sed 's/^/new /'
  OMP_NUM_THREADS=1 /usr/bin/python3 bench/compute/torch_bench.py --threads 1 --batch 16 --optimizer adam \
    --repeats 3 | sed 's/^/torch /'
done
for r in $(seq "$seed_rounds"); do
  echo "seed round $r load $(load)"
  echo "old adag: $(seed "$old" adag)"
  echo "new adag: $(seed "$new" adag)"
  echo "new single: $(seed "$new" single)"
done
echo "end load $(load)"
