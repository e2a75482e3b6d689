#!/usr/bin/env python3
"""asyncps benchmark suite: the seed's table, accuracy against time, memory, scaling.

Standard library only (python3 >= 3.9). Runs build/bin/asyncps-local with
--report-json and samples /proc for the peak RSS (VmHWM) of every process it starts,
unless the report carries peak_rss_kb itself. Subcommands (one module each in
bench/suite/subcommands/, shared code in subcommands/common.py):

  suite.py seed OUTDIR [--quick] [--algos ...] [--workers ...] [--repeats N] ...
      the seed's table (algorithm x W), accuracy-vs-time curves, memory of the seed
      run (or the largest run made): OUTDIR/seed.{json,csv,md}, curve.csv, memory.md, PNGs
  suite.py compression OUTDIR [--quick] [--repeats N] ...
      the seed experiment with float32, bf16 and top-1% (with and without error feedback)
      wire payloads, paired by seed: compression.{json,csv,md}
  suite.py staleness OUTDIR [--quick] [--slowdown 3] [--curve-every 5] ...
      the seed experiment with worker 0 slowed down, under ADAG async, ADAG with
      --max-staleness 1, 4, 16, and DynSGD: staleness.{json,csv,md}, accuracy-vs-time PNG
  suite.py overhead OUTDIR [--quick] [--repeats N] ...
      what the PS costs the seed experiment: the same workers with --algo single, ADAG over
      shared memory and ADAG over the socket, interleaved: overhead.{json,csv,md}
  suite.py scaling OUTDIR [--workers 1 2 4 8 12] [--repeats N] ...
      samples/s and time-to-accuracy per W, against W independent single-worker
      processes run concurrently and PyTorch with all threads: scaling.{json,csv,md}, PNG
  suite.py cores OUTDIR [--workers 1,2,4,8,16] [--shards 1,2,4] [--max-workers N] [--limit-s 600] ...
      the seed model (ADAG) at every W x S, each run under --limit-s / runs: samples/s, time to
      0.90 accuracy, the server's CPU per update: cores.{json,md,log}; refuses when nproc is
      below the largest W + S unless --max-workers caps W
  suite.py summary OUTDIR
      joins OUTDIR/{ps/ps.md, compute/compute.md, seed.md, memory.md, compression.md, scaling/scaling.md}
      into OUTDIR/summary.md
  suite.py plots OUTDIR
      redraws the PNGs from OUTDIR's CSV files
"""
import argparse
import os
import sys

from subcommands import common, compression, cores, overhead, plots, scaling, seed, staleness, summary

# name -> module with add_parser(sub) and run(args), in --help order.
SUBCOMMANDS = {"seed": seed, "compression": compression, "staleness": staleness, "overhead": overhead,
               "scaling": scaling, "cores": cores, "summary": summary, "plots": plots}
# These only read OUTDIR: they do not need asyncps-local.
OFFLINE = ("summary", "plots")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for module in SUBCOMMANDS.values():
        module.add_parser(sub)
    a = ap.parse_args()
    if not os.access(common.LOCAL, os.X_OK) and a.cmd not in OFFLINE:
        sys.exit(f"{common.LOCAL} not found: build it "
                 "(cmake --build build --target asyncps-local asyncps-server asyncps-worker)")
    SUBCOMMANDS[a.cmd].run(a)


if __name__ == "__main__":
    main()
