"""suite.py staleness OUTDIR: the seed experiment with one straggler (worker 0 three
times slower) under fully asynchronous ADAG, ADAG with the staleness bound S = 1, 4
and 16, and DynSGD: training time, accuracy, time blocked, the clock gap, and accuracy
against time: staleness.{json,csv,md}, staleness_curve.csv, staleness_accuracy.png."""
import json
import os
import sys
import time

from . import common
from .common import fmt, machine_line, run_local, run_setup, write_csv

# name -> (algorithm, asyncps-local flags)
VARIANTS = [
    ("ADAG async", "adag", []),
    ("ADAG S=1", "adag", ["--max-staleness", "1"]),
    ("ADAG S=4", "adag", ["--max-staleness", "4"]),
    ("ADAG S=16", "adag", ["--max-staleness", "16"]),
    ("DynSGD", "dynsgd", []),
]


def cmd_staleness(a):
    out = a.outdir
    m, rows, test_rows, epochs = run_setup(a)
    workers = a.workers or 3
    straggler = ["--straggler", f"0:{a.slowdown:g}", "--curve-every", str(a.curve_every)]
    log = open(os.path.join(out, "staleness.log"), "w")
    runs = []
    t_start = time.time()
    for name, algo, flags in VARIANTS:
        print(f"[staleness] {name}", file=sys.stderr, flush=True)
        r = run_local(algo, workers, shards=a.shards, epochs=epochs, batch=a.batch, window=5,
                      optimizer=a.optimizer, lr=a.lr, train_limit=rows, test_limit=test_rows,
                      seed=a.seed, timeout=a.timeout, sample_rss=False, log=log, extra=straggler + flags)
        r.update(variant=name)
        blocked = [b for b in r.get("worker_blocked_seconds") or [] if b is not None]
        r["blocked_total_s"] = sum(blocked) if blocked else None
        r["blocked_max_s"] = max(blocked) if blocked else None
        runs.append(r)
    elapsed = time.time() - t_start
    log.close()
    settings = {"workers": workers, "shards": a.shards, "epochs": epochs, "batch": a.batch, "window": 5,
                "optimizer": a.optimizer, "lr": a.lr, "train_limit": rows, "test_limit": test_rows,
                "seed": a.seed, "straggler": f"0:{a.slowdown:g}", "curve_every_s": a.curve_every}
    with open(os.path.join(out, "staleness.json"), "w") as f:
        json.dump({"machine": m, "settings": settings, "elapsed_s": round(elapsed, 1), "runs": runs}, f, indent=1)
    cols = ["variant", "algo", "training_time", "accuracy", "updates", "staleness_mean", "staleness_max",
            "max_clock_gap", "max_staleness", "blocked_total_s", "blocked_max_s"]
    write_csv(os.path.join(out, "staleness.csv"), [dict(r, algo=r["algo"]) for r in runs], cols)
    curve_rows = [{"variant": r["variant"], "seconds": p[0], "accuracy": p[1]} for r in runs for p in r["curve"]]
    write_csv(os.path.join(out, "staleness_curve.csv"), curve_rows, ["variant", "seconds", "accuracy"])
    plot(out, runs)
    md = [f"## Bounded staleness with a straggler (seed experiment, worker 0 {a.slowdown:g}x slower)", "",
          machine_line(m), "",
          f"settings: W={workers}, {a.shards} shards, batch {a.batch}, window 5, {epochs} epoch(s) over "
          f"{rows or 60000:,} Fashion-MNIST rows, {a.optimizer} lr {a.lr}, seed {a.seed}, test on "
          f"{test_rows or 10000:,} rows; `asyncps-local --straggler 0:{a.slowdown:g} --curve-every "
          f"{a.curve_every}`; one run each, in this order; suite time {elapsed / 60:.1f} min", "",
          "| variant | training time s | test accuracy | PS updates | tau mean / max | max clock gap (bound) "
          "| time blocked, s (all workers; most of one) |",
          "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        bound = "off" if r.get("max_staleness") is None else str(r["max_staleness"])
        md.append(f"| {r['variant']} | {fmt(r['training_time'], '.1f')} | {fmt(r['accuracy'], '.4f')} | "
                  f"{fmt(r['updates'], '.0f')} | {fmt(r.get('staleness_mean'), '.2f')} / "
                  f"{fmt(r.get('staleness_max'), '.0f')} | {fmt(r.get('max_clock_gap'), '.0f')} ({bound}) | "
                  f"{fmt(r['blocked_total_s'], '.1f')}; {fmt(r['blocked_max_s'], '.1f')} |")
    md += ["", "Accuracy against time: `staleness_accuracy.png` (C pulled every "
           f"{a.curve_every} s while training, evaluated afterwards).", ""]
    with open(os.path.join(out, "staleness.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


def plot(out, runs):
    data = os.path.join(out, "staleness_curve.dat")
    with open(data, "w") as f:
        for r in runs:
            f.write(f'"{r["variant"]}"\n')
            for sec, acc in r["curve"]:
                f.write(f"{sec} {acc}\n")
            f.write("\n\n")
    png = os.path.join(out, "staleness_accuracy.png")
    series = ", ".join(f"'{data}' index {i} with linespoints title columnheader(1)" for i in range(len(runs)))
    common.gnuplot(f"""set terminal pngcairo size 900,540
set output '{png}'
set title 'Seed experiment, worker 0 slowed 3x: test accuracy of C against training time'
set xlabel 'seconds since the first batch'
set ylabel 'test accuracy'
set key bottom right
set grid
plot {series}
""", png)


def add_parser(sub):
    """Adds this subcommand to the dispatcher's subparsers."""
    z = common.seed_run_parser(sub, "staleness",
                               "the seed experiment with a straggler, async against bounded staleness")
    z.add_argument("--slowdown", type=float, default=3.0, help="worker 0 trains this many times slower")
    z.add_argument("--curve-every", type=float, default=5.0, help="seconds between snapshots of C")


def run(a):
    cmd_staleness(a)
