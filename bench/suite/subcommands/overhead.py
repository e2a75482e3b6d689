"""suite.py overhead OUTDIR: what the PS costs the seed experiment. The same three
workers with no PS at all (--algo single), with ADAG over shared memory (asyncps-local's
default) and with ADAG over the socket (--shared-memory off), in interleaved rounds:
overhead.{json,csv,md}."""
import json
import os
import sys
import time

from . import common
from .common import fmt, machine_line, median, run_local, run_setup, write_csv

# name -> (algorithm, asyncps-local flags)
VARIANTS = [
    ("single (no PS)", "single", []),
    ("ADAG, shared memory", "adag", ["--shared-memory", "on"]),
    ("ADAG, socket", "adag", ["--shared-memory", "off"]),
]
TARGET = 1.05  # issue 14.4: ADAG time at most 1.05x single's


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cmd_overhead(a):
    out = a.outdir
    m, rows, test_rows, epochs = run_setup(a)
    workers = a.workers or (2 if a.quick else 3)
    repeats = a.repeats or (1 if a.quick else 3)
    log = open(os.path.join(out, "overhead.log"), "w")
    runs = []
    t_start = time.time()
    for rep in range(repeats):
        for name, algo, flags in VARIANTS:
            print(f"[overhead] repeat {rep + 1}/{repeats}: {name}", file=sys.stderr, flush=True)
            before = load()
            r = run_local(algo, workers, shards=a.shards, epochs=epochs, batch=a.batch, window=5,
                          optimizer=a.optimizer, lr=a.lr, train_limit=rows, test_limit=test_rows,
                          seed=a.seed, timeout=a.timeout, sample_rss=False, log=log, extra=flags)
            r.update(variant=name, repeat=rep, load_before=before, load_after=load())
            runs.append(r)
    elapsed = time.time() - t_start
    log.close()
    # Each ADAG run against the single run of its own round, then the median of those ratios.
    single = {r["repeat"]: r["training_time"] for r in runs if r["algo"] == "single"}
    table = []
    for name, algo, flags in VARIANTS:
        rs = [r for r in runs if r["variant"] == name]
        ratios = [r["training_time"] / single[r["repeat"]] for r in rs
                  if r["training_time"] and single.get(r["repeat"])]
        table.append({"variant": name, "flags": " ".join(["--algo", algo] + flags), "runs": len(rs),
                      "failed": sum(r["training_time"] is None for r in rs),
                      "training_times": [r["training_time"] for r in rs],
                      "training_time": median([r["training_time"] for r in rs]),
                      "vs_single": median(ratios) if algo != "single" else None,
                      "accuracy": median([r["accuracy"] for r in rs]),
                      "updates": median([r["updates"] for r in rs])})
    settings = {"workers": workers, "shards": a.shards, "epochs": epochs, "batch": a.batch, "window": 5,
                "optimizer": a.optimizer, "lr": a.lr, "train_limit": rows, "test_limit": test_rows,
                "repeats": repeats, "seed": a.seed}
    with open(os.path.join(out, "overhead.json"), "w") as f:
        json.dump({"machine": m, "settings": settings, "elapsed_s": round(elapsed, 1), "table": table,
                   "runs": runs}, f, indent=1)
    write_csv(os.path.join(out, "overhead.csv"),
              [dict(t, training_times=";".join(fmt(x, ".2f") for x in t["training_times"]),
                    commit=m["git_commit"], nproc=m["nproc"]) for t in table],
              ["variant", "flags", "runs", "failed", "training_time", "training_times", "vs_single", "accuracy",
               "updates", "nproc", "commit"])
    md = ["## What the PS costs the seed experiment", "", machine_line(m), "",
          f"settings: W={workers}, {a.shards} shards, batch {a.batch}, window 5, {epochs} epoch(s) over "
          f"{rows or 60000:,} Fashion-MNIST rows, {a.optimizer} lr {a.lr}; {repeats} rounds, the variants "
          f"interleaved in each; vs single = median over rounds of (ADAG time / single time of the same "
          f"round); target {TARGET}x; the load averages are listed below the table; suite time "
          f"{elapsed / 60:.1f} min", "",
          "| variant | training time s (median; each run) | vs single | test accuracy | PS updates |",
          "|---|---|---:|---:|---:|"]
    for t in table:
        each = ", ".join(fmt(x, ".1f") for x in t["training_times"])
        md.append(f"| {t['variant']} | {fmt(t['training_time'], '.1f')} ({each}) | "
                  f"{fmt(t['vs_single'], '.3f')}{'x' if t['vs_single'] else ''} | {fmt(t['accuracy'], '.4f')} | "
                  f"{fmt(t['updates'], '.0f')} |")
    md += ["", "Load average (1, 5, 15 min) before and after each run: " +
           "; ".join(f"{r['variant']} r{r['repeat'] + 1}: {r['load_before']} -> {r['load_after']}" for r in runs), ""]
    with open(os.path.join(out, "overhead.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


def add_parser(sub):
    """Adds this subcommand to the dispatcher's subparsers."""
    common.seed_run_parser(sub, "overhead", "the seed experiment with no PS, with ADAG over shared memory "
                                            "and over the socket")


def run(a):
    cmd_overhead(a)
