"""suite.py scaling OUTDIR: samples/s and time-to-accuracy per W against W independent
single-worker processes and PyTorch with all threads: scaling.{json,csv,md}, PNG."""
import json
import os
import subprocess
import sys
import tempfile
import time

from . import common
from .common import (LOCAL, PYTHON_TORCH, ROOT, fmt, fmtx, gnuplot, machine_info, machine_line, median,
                     run_local, write_csv)


# ---------------------------------------------------------------- scaling

def run_concurrent_single(w, *, rows, epochs, batch, optimizer, lr, test_limit, seed, timeout, log):
    """W independent asyncps-local --algo single --workers 1 processes at once, each on
    rows/W rows (a PS worker's partition); returns the sum of their training samples/s."""
    procs, paths = [], []
    for i in range(w):
        fd, jp = tempfile.mkstemp(prefix="asyncps-suite-ind-", suffix=".json")
        os.close(fd)
        paths.append(jp)
        cmd = [LOCAL, "--algo", "single", "--workers", "1", "--epochs", str(epochs),
               "--batch-size", str(batch), "--optimizer", optimizer, "--lr", str(lr),
               "--train-limit", str(max(1, rows // w)), "--test-limit", str(test_limit),
               "--seed", str(seed + i), "--save-weights", "", "--report-json", jp,
               "--timeout", str(timeout)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    rates = []
    for p, jp in zip(procs, paths):
        o, _ = p.communicate()
        if log:
            log.write(f"$ [independent {len(rates)}/{w}] " + " ".join(p.args if isinstance(p.args, list) else [])
                      + "\n" + o + "\n")
        try:
            with open(jp) as f:
                rep = json.load(f)
            ws = rep.get("workers") or [{}]
            rates.append(ws[0].get("samples_per_second") or rep.get("samples_per_second"))
        except (OSError, ValueError):
            rates.append(None)
        os.unlink(jp)
    if any(r is None for r in rates):
        return None, rates
    return sum(rates), rates


def cmd_scaling(a):
    out = a.outdir
    os.makedirs(out, exist_ok=True)
    m = machine_info()
    nproc = os.cpu_count() or 1
    ws = a.workers or [1, 2, 4, 8, 12]
    capped = [w for w in ws if w <= nproc]
    dropped = [w for w in ws if w > nproc]
    ws = capped or [1]
    rows = a.train_limit if a.train_limit is not None else 12000
    test_rows = a.test_limit if a.test_limit is not None else 2000
    log = open(os.path.join(out, "scaling.log"), "w")
    common = dict(batch=a.batch, optimizer=a.optimizer, lr=a.lr, seed=a.seed, timeout=a.timeout)
    settings = {"algo": a.algo, "window": a.window, "shards": a.shards, "ps_flags": a.ps_flags, "train_limit": rows,
                "test_limit": test_rows, "batch": a.batch, "optimizer": a.optimizer, "lr": a.lr,
                "repeats": a.repeats, "workers": ws, "workers_dropped_over_nproc": dropped,
                "target_accuracy": a.target_accuracy, "max_epochs": a.max_epochs}
    t_start = time.time()
    ps_runs, ind_runs = {w: [] for w in ws}, {w: [] for w in ws}
    # Throughput: one epoch over `rows` rows, PS run then the W independent processes,
    # alternating, repeated; the medians are compared.
    for rep in range(a.repeats):
        for w in ws:
            print(f"[scaling] repeat {rep + 1}/{a.repeats}: PS {a.algo} W={w}", file=sys.stderr, flush=True)
            r = run_local(a.algo, w, shards=a.shards, epochs=1, window=a.window, train_limit=rows,
                          test_limit=test_rows, sample_rss=False, log=log, extra=a.ps_flags.split(), **common)
            ps_runs[w].append(r)
            print(f"[scaling] repeat {rep + 1}/{a.repeats}: {w} independent single-worker processes",
                  file=sys.stderr, flush=True)
            tot, each = run_concurrent_single(w, rows=rows, epochs=1, test_limit=test_rows, log=log, **common)
            ind_runs[w].append({"total": tot, "each": each})
    # Time to accuracy: runs of 1, 2, ... epochs until the test accuracy reaches the target.
    tta = {}
    for w in ws:
        tta[w] = None
        for e in range(1, a.max_epochs + 1):
            if e == 1:
                r = min((x for x in ps_runs[w] if x["accuracy"] is not None),
                        key=lambda x: x["training_time"], default=None)
                # the median-time run of the repeats stands for epoch 1
                ok = [x for x in ps_runs[w] if x["accuracy"] is not None]
                if ok:
                    ok.sort(key=lambda x: x["training_time"])
                    r = ok[len(ok) // 2]
            else:
                print(f"[scaling] time to accuracy: W={w} epochs={e}", file=sys.stderr, flush=True)
                r = run_local(a.algo, w, shards=a.shards, epochs=e, window=a.window, train_limit=rows,
                              test_limit=test_rows, sample_rss=False, log=log, extra=a.ps_flags.split(),
                              **common)
            if r and r["accuracy"] is not None and r["accuracy"] >= a.target_accuracy:
                tta[w] = {"epochs": e, "training_time": r["training_time"], "accuracy": r["accuracy"]}
                break
            tta[w] = {"epochs": None, "last_epochs": e, "accuracy": r["accuracy"] if r else None}
    # PyTorch with every thread at batch 16 (cheap: a few seconds).
    torch, torch_cpu = None, {}
    tb = os.path.join(ROOT, "bench", "compute", "torch_bench.py")
    if not a.no_torch and os.path.exists(tb):
        for threads in sorted({1, nproc}):
            try:
                env = dict(os.environ, OMP_NUM_THREADS=str(threads))
                o = subprocess.run([PYTHON_TORCH, tb, "--threads", str(threads), "--batch", str(a.batch),
                                    "--optimizer", a.optimizer, "--repeats", "5", "--min-seconds", "1"],
                                   capture_output=True, text=True, timeout=300, env=env, check=True).stdout
                sps = float(o.split()[3])
                torch = torch or {}
                torch[threads] = sps
                torch_cpu[threads] = float(o.split()[4])
            except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
                print(f"PyTorch reference skipped: {e}", file=sys.stderr)
    elapsed = time.time() - t_start
    log.close()
    rows_out = []
    w1 = median([r["samples_per_second"] for r in ps_runs[ws[0]]]) if ws[0] == 1 else None
    for w in ws:
        ps = median([r["samples_per_second"] for r in ps_runs[w]])
        ind = median([x["total"] for x in ind_runs[w]])
        t = tta[w] or {}
        rows_out.append({
            "workers": w, "ps_samples_per_second": ps, "independent_samples_per_second": ind,
            "ps_over_independent": ps / ind if ps and ind else None,
            "speedup_vs_w1": ps / w1 if ps and w1 else None,
            "torch_all_threads_samples_per_second": torch.get(nproc) if torch else None,
            "ps_over_torch_all_threads": ps / torch[nproc] if ps and torch and torch.get(nproc) else None,
            "time_to_accuracy_s": t.get("training_time"), "tta_epochs": t.get("epochs"),
            "tta_accuracy": t.get("accuracy"),
            "ps_runs": len(ps_runs[w]), "nproc": nproc, "cpu": m["cpu_model"], "host": m["hostname"],
            "commit": m["git_commit"], "date": m["date"]})
    with open(os.path.join(out, "scaling.json"), "w") as f:
        json.dump({"machine": m, "settings": settings, "elapsed_s": round(elapsed, 1), "table": rows_out,
                   "torch_samples_per_second_by_threads": torch,
                   "torch_samples_per_cpu_second_by_threads": torch_cpu,
                   "ps_runs": ps_runs, "independent_runs": ind_runs}, f, indent=1)
    write_csv(os.path.join(out, "scaling.csv"), rows_out,
              ["workers", "ps_samples_per_second", "independent_samples_per_second", "ps_over_independent",
               "speedup_vs_w1", "torch_all_threads_samples_per_second", "ps_over_torch_all_threads",
               "time_to_accuracy_s", "tta_epochs", "tta_accuracy", "ps_runs", "nproc", "cpu", "host",
               "commit", "date"])
    md = ["## Scaling: W workers against W independent processes (the compute ceiling)", "",
          machine_line(m) + f"; every figure below is from this machine ({m['hostname']})", "",
          f"`bench/suite/scaling.sh OUTDIR --workers {' '.join(map(str, ws))}`: PS run = asyncps-local "
          f"--algo {a.algo} --window {a.window} --shards {a.shards}{' ' + a.ps_flags if a.ps_flags else ''}, "
          f"batch {a.batch}, {a.optimizer}, one "
          f"epoch over {rows:,} rows split over the W workers; independent = W concurrent asyncps-local "
          f"--algo single --workers 1 on {rows:,}/W rows each (sum of their training samples/s); the two "
          f"alternate, {a.repeats} repeat(s), medians. Time to accuracy: the first of 1..{a.max_epochs} "
          f"epochs whose run reaches test accuracy {a.target_accuracy} ({test_rows:,} test rows), its "
          f"training time (one run per epoch count). Target: PS / independent >= 0.9."
          + (f" W={dropped} skipped: more than nproc={nproc}." if dropped else ""), "",
          "| W | PS samples/s | independent samples/s | PS / independent | speedup vs W=1 | "
          "PyTorch all threads samples/s | PS / PyTorch all threads | time to accuracy s (epochs) |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows_out:
        tta_s = (f"{r['time_to_accuracy_s']:.1f} ({r['tta_epochs']})" if r["time_to_accuracy_s"]
                 else f"not reached in {a.max_epochs}")
        md.append(f"| {r['workers']} | {fmt(r['ps_samples_per_second'], '.0f')} | "
                  f"{fmt(r['independent_samples_per_second'], '.0f')} | {fmtx(r['ps_over_independent'])} | "
                  f"{fmtx(r['speedup_vs_w1'])} | {fmt(r['torch_all_threads_samples_per_second'], '.0f')} | "
                  f"{fmtx(r['ps_over_torch_all_threads'])} | {tta_s} |")
    if torch:
        md += ["", "PyTorch 1.13 (bench/compute/torch_bench.py, seed CNN, batch %d, %s): " % (a.batch, a.optimizer)
               + ", ".join(f"{t} thread(s) {s:.0f} samples/s wall ({torch_cpu.get(t, 0):.0f} per CPU-second)"
                           for t, s in sorted(torch.items()))
               + ". With more threads than free cores (a loaded machine) PyTorch's OpenMP threads wait "
               "for each other and the wall figure collapses; the per-CPU-second figure shows the work."]
    md += ["", f"scaling time {elapsed / 60:.1f} min; plot `scaling.png`", ""]
    with open(os.path.join(out, "scaling.md"), "w") as f:
        f.write("\n".join(md))
    plot_scaling(out, nproc, m["cpu_model"])
    print("\n".join(md))


def plot_scaling(out, nproc, cpu_model):
    gnuplot(f"""
set terminal pngcairo size 900,560 noenhanced
set output '{out}/scaling.png'
set datafile separator ','
set key center right
set grid
set yrange [0:*]
set title 'samples/s against W ({nproc} CPUs, {cpu_model})'
set xlabel 'workers W'
set ylabel 'samples/s (all workers)'
set xtics 1
plot '{out}/scaling.csv' using 1:2 with linespoints title 'asyncps PS run', \\
     '' using 1:3 with linespoints title 'W independent processes (ceiling)', \\
     '' using 1:6 with linespoints title 'PyTorch, one process, all threads'
""", f"{out}/scaling.png")


def add_parser(sub):
    """Adds this subcommand to the dispatcher's subparsers."""
    c = sub.add_parser("scaling")
    c.add_argument("outdir")
    c.add_argument("--workers", nargs="+", type=int, help="default 1 2 4 8 12, capped at nproc")
    c.add_argument("--algo", default="adag")
    c.add_argument("--window", type=int, default=5)
    c.add_argument("--target-accuracy", type=float, default=0.80)
    c.add_argument("--max-epochs", type=int, default=3)
    c.add_argument("--no-torch", action="store_true")
    c.add_argument("--ps-flags", default="",
                   help="more asyncps-local flags for the PS runs, e.g. '--pull-encoding bf16 --commit-encoding bf16'")
    common.train_opts(c)


def run(a):
    if a.repeats is None:
        a.repeats = 3
    cmd_scaling(a)
