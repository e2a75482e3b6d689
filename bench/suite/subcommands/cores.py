"""suite.py cores OUTDIR: the seed model (ADAG) at W workers x S shards on a many-core machine,
every configuration under a per-run time budget so the whole grid fits --limit-s: samples/s,
time to --target test accuracy (from --curve-every) and the server's CPU per update:
cores.{json,md,log}."""
import json
import os
import sys
import time

from .common import SEED_WINDOW, fmt, machine_info, machine_line, run_local

# The seed's training settings (README, scripts/seed-experiment.sh) apart from W, S and the data.
SEED = {"algo": "adag", "window": SEED_WINDOW["adag"], "batch": 16, "optimizer": "adam", "lr": 0.001}
# Seconds of --limit-s kept for the suite's own start (machine record) and writing the files.
RESERVE_S = 30


def int_list(text):
    """'1,2,4' -> [1, 2, 4]; each a positive integer."""
    try:
        xs = [int(x) for x in text.split(",")]
    except ValueError:
        xs = []
    if not xs or min(xs) < 1:
        raise ValueError(f"expected positive integers separated by commas, got {text!r}")
    return xs


def time_to_target(rec, target):
    """(seconds from the first batch to the first accuracy >= target, or None; best accuracy seen)."""
    points = [tuple(p) for p in rec.get("curve") or []]
    if rec.get("accuracy") is not None:
        points.append((rec["training_time"], rec["accuracy"]))  # the final model, after training
    reached = [t for t, acc in points if acc >= target]
    return (min(reached) if reached else None), max((acc for _, acc in points), default=None)


def cmd_cores(a):
    try:
        ws, ss = int_list(a.workers), int_list(a.shards)
    except ValueError as e:
        sys.exit(f"suite.py cores: --workers/--shards: {e}")
    for flag, ok in [("--max-workers", a.max_workers is None or a.max_workers >= 1), ("--epochs", a.epochs >= 1),
                     ("--train-limit", a.train_limit >= 0), ("--test-limit", a.test_limit >= 0),
                     ("--curve-every", a.curve_every > 0), ("--target", 0 < a.target <= 1)]:
        if not ok:
            sys.exit(f"suite.py cores: {flag} out of range (see --help)")
    nproc = os.cpu_count() or 1
    if a.max_workers is not None:
        ws = [w for w in ws if w <= a.max_workers] or [1]
    elif max(ws) > nproc:
        sys.exit(f"suite.py cores: this machine has {nproc} cores, fewer than the largest W = {max(ws)} "
                 f"(one core per worker). Pass --max-workers N to cap W, or fewer --workers. (Runs with "
                 f"W + S > {nproc} go ahead, marked oversubscribed.)")
    configs = [(w, s) for s in ss for w in ws]
    # Each run trains the same samples, so W=1 takes longest: a run's share of the time is
    # proportional to 1/sqrt(W) (W=1 gets 4x W=16's), rounded down to whole seconds.
    weight = sum(w ** -0.5 for w, _ in configs)

    def budgets(seconds):
        return {(w, s): int(seconds * w ** -0.5 / weight) for w, s in configs}

    if min(budgets(a.limit_s - RESERVE_S).values()) < 10:
        sys.exit(f"suite.py cores: --limit-s {a.limit_s} leaves under 10 s for the W={max(ws)} runs "
                 f"(after {RESERVE_S} s for the suite itself); give a longer limit or fewer runs")
    t_start = time.time()
    deadline = t_start + a.limit_s - RESERVE_S  # the last run ends by then
    os.makedirs(a.outdir, exist_ok=True)
    m = machine_info()
    budget = budgets(deadline - time.time())
    settings = dict(SEED, workers=ws, shards=ss, epochs=a.epochs, train_limit=a.train_limit,
                    test_limit=a.test_limit, curve_every_s=a.curve_every, target_accuracy=a.target,
                    seed=a.seed, limit_s=a.limit_s, nproc=nproc)
    rows = []
    with open(os.path.join(a.outdir, "cores.log"), "w") as log:
        for w, s in configs:
            row = {"workers": w, "shards": s, "budget_s": budget[w, s], "oversubscribed": w + s > nproc}
            if time.time() + budget[w, s] > deadline + 1:  # earlier runs overran their --timeout (evaluation)
                row["status"] = "skipped: --limit-s reached"
                rows.append(row)
                continue
            print(f"[cores] W={w} S={s} (budget {budget[w, s]} s)", file=sys.stderr, flush=True)
            rec = run_local(SEED["algo"], w, shards=s, epochs=a.epochs, batch=SEED["batch"], window=SEED["window"],
                            optimizer=SEED["optimizer"], lr=SEED["lr"], train_limit=a.train_limit,
                            test_limit=a.test_limit, seed=a.seed, timeout=budget[w, s], log=log,
                            extra=["--curve-every", str(a.curve_every)])
            tta, best = time_to_target(rec, a.target)
            cpu, updates = rec.get("server_cpu_s"), rec.get("updates")
            row.update(status="ok" if rec["accuracy"] is not None else f"failed (rc {rec['rc']}; "
                       f"--timeout {budget[w, s]} s or an error: cores.log)",
                       samples_per_second=rec["samples_per_second"], training_time_s=rec["training_time"],
                       wall_s=rec["wall_s"], accuracy=rec["accuracy"], best_accuracy=best,
                       time_to_target_s=tta, updates=updates, server_cpu_s=cpu,
                       server_cpu_ms_per_update=1000 * cpu / updates if cpu and updates else None, run=rec)
            rows.append(row)
    elapsed = time.time() - t_start
    with open(os.path.join(a.outdir, "cores.json"), "w") as f:
        json.dump({"machine": m, "settings": settings, "elapsed_s": round(elapsed, 1), "rows": rows}, f, indent=1)
    data_flags = f"--train-limit {a.train_limit} --epochs {a.epochs} --test-limit {a.test_limit}"
    md = [f"## Many cores: ADAG at W workers x S shards, {nproc} CPUs", "",
          machine_line(m), "",
          f"`bench/suite/suite.py {' '.join(sys.argv[1:])}`: asyncps-local --algo adag --window {SEED['window']} "
          f"--batch-size {SEED['batch']} --optimizer adam --lr {SEED['lr']} {data_flags} --curve-every "
          f"{a.curve_every} --timeout BUDGET; one run each. BUDGET: {a.limit_s} s less {RESERVE_S} s for the "
          f"suite and its machine record, shared over the {len(configs)} runs in proportion to 1/sqrt(W). "
          f"Time to {a.target:.2f}: seconds from the first batch to the first curve point (or the final model) "
          f"at that test accuracy. Server CPU: utime + stime of asyncps-server (all its shards) from /proc "
          f"every 0.1 s, start-up and the curve's pulls included, over the updates it applied. Whole grid "
          f"{elapsed:.0f} s of the {a.limit_s} s limit.", "",
          f"| W | S | budget s | samples/s | time to {a.target:.2f} s | best accuracy | updates | server CPU s | "
          "server CPU ms / update | note |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        note = [] if r["status"] == "ok" else [r["status"]]
        if r["oversubscribed"]:
            note.append(f"W + S > {nproc} CPUs")
        tta = (fmt(r.get("time_to_target_s"), ".1f") if r.get("time_to_target_s") is not None
               else "not reached" if r["status"] == "ok" else "-")
        md.append(f"| {r['workers']} | {r['shards']} | {r['budget_s']} | "
                  f"{fmt(r.get('samples_per_second'), '.0f')} | {tta} | "
                  f"{fmt(r.get('best_accuracy'), '.4f')} | {fmt(r.get('updates'), ',')} | "
                  f"{fmt(r.get('server_cpu_s'), '.2f')} | {fmt(r.get('server_cpu_ms_per_update'), '.3f')} | "
                  f"{'; '.join(note)} |")
    md.append("")
    with open(os.path.join(a.outdir, "cores.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


def add_parser(sub):
    """Adds this subcommand to the dispatcher's subparsers."""
    c = sub.add_parser("cores")
    c.add_argument("outdir")
    c.add_argument("--workers", default="1,2,4,8,16", help="W values, comma-separated")
    c.add_argument("--shards", default="1,2,4", help="S values, comma-separated")
    c.add_argument("--max-workers", type=int, default=None,
                   help="cap W (>= 1); without it, refuse when nproc < the largest W")
    c.add_argument("--limit-s", type=int, default=600, help="wall-clock limit of the whole grid, s")
    c.add_argument("--epochs", type=int, default=1, help=">= 1")
    c.add_argument("--train-limit", type=int, default=0, help="rows (>= 0; 0: all 60,000)")
    c.add_argument("--test-limit", type=int, default=2000, help="test rows (>= 0; 0: all 10,000)")
    c.add_argument("--curve-every", type=float, default=2.0, help="s between accuracy snapshots (> 0)")
    c.add_argument("--target", type=float, default=0.90, help="the test accuracy to time, in (0, 1]")
    c.add_argument("--seed", type=int, default=1)


def run(a):
    cmd_cores(a)
