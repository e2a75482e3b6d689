#!/bin/bash
# Interleaved rounds, Adam batch 16, one thread each, 3 repeats of 1 s per figure.
for r in 1 2 3 4 5; do
  echo "round $r load $(cut -d' ' -f1-3 /proc/loadavg)"
  /tmp/x/bc-native --batch 16 --optimizer adam --repeats 3 | sed 's/^/native-real /'
  /tmp/x/bc-portable --batch 16 --optimizer adam --repeats 3 | sed 's/^/portable-real /'
  OMP_NUM_THREADS=1 /usr/bin/python3 /work/wt-perf/bench/compute/torch_bench.py --threads 1 --batch 16 --optimizer adam --repeats 3 | sed 's/^/torch-fair /'
  OMP_NUM_THREADS=1 /usr/bin/python3 /tmp/x/torch_bench_old.py --threads 1 --batch 16 --optimizer adam --repeats 3 | sed 's/^/torch-old /'
  /tmp/x/bc-base --batch 16 --optimizer adam --repeats 3 | sed 's/^/main-random /'
  /tmp/x/bc-adam --batch 16 --optimizer adam --repeats 3 | sed 's/^/fusedadam-random /'
done
echo "end load $(cut -d' ' -f1-3 /proc/loadavg)"
