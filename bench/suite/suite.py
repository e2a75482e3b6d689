#!/usr/bin/env python3
"""asyncps benchmark suite: the seed's table, accuracy against time, memory, scaling.

Standard library only (python3 >= 3.9). Runs build/models/launcher/asyncps-local with
--report-json and samples /proc for the peak RSS (VmHWM) of every process it starts,
unless the report carries peak_rss_kb itself. Subcommands:

  suite.py seed OUTDIR [--quick] [--algos ...] [--workers ...] [--repeats N] ...
      the seed's table (algorithm x W), accuracy-vs-time curves, memory of the seed
      run (or the largest run made): OUTDIR/seed.{json,csv,md}, curve.csv, memory.md, PNGs
  suite.py compression OUTDIR [--quick] [--repeats N] ...
      the seed experiment with float32, bf16 and top-1% (with and without error feedback)
      wire payloads, paired by seed: compression.{json,csv,md}
  suite.py scaling OUTDIR [--workers 1 2 4 8 12] [--repeats N] ...
      samples/s and time-to-accuracy per W, against W independent single-worker
      processes run concurrently and PyTorch with all threads: scaling.{json,csv,md}, PNG
  suite.py summary OUTDIR
      joins OUTDIR/{ps/ps.md, compute/compute.md, seed.md, memory.md, compression.md, scaling/scaling.md}
      into OUTDIR/summary.md
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
LOCAL = os.path.join(BUILD, "models", "launcher", "asyncps-local")
PYTHON_TORCH = os.environ.get("PYTHON", "/usr/bin/python3")

ALGOS = ["downpour", "adag", "easgd", "eamsgd", "dynsgd", "single"]
# The seed's windows: 5 for the rules Dist-Keras' experiment set it for; EASGD/EAMSGD keep
# their Dist-Keras default (32, asyncps-local --window 0). single has no window.
SEED_WINDOW = {"downpour": 5, "adag": 5, "dynsgd": 5, "easgd": 0, "eamsgd": 0, "single": 0}
DEFAULT_WINDOW = {"downpour": 5, "adag": 12, "dynsgd": 5, "easgd": 32, "eamsgd": 32, "single": 0}
PARAMS = 1_048_853
DIST_KERAS = {"training_time": 1497.9, "accuracy": 0.9897, "updates": 3751}


# ---------------------------------------------------------------- machine, helpers

def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass

    def git(*a):
        try:
            return subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "mem_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "hostname": platform.node(),
        "git_commit": git("rev-parse", "HEAD") + ("-dirty" if dirty and dirty != "?" else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }


def machine_line(m):
    return (f"machine: {m['cpu_model']}, {m['nproc']} CPUs, {m['mem_gib']} GiB, Linux {m['kernel']}, "
            f"load average at start {' '.join(m['loadavg_start'])}; commit {m['git_commit'][:12]}, "
            f"run at {m['date']}")


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def fmtx(x):
    return "-" if x is None else f"{x:.2f}x"


def write_csv(path, rows, cols):
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + "\n")


def gnuplot(script, out_png):
    if not shutil.which("gnuplot"):
        print("gnuplot not found (apt-get install gnuplot-nox): no plot " + out_png, file=sys.stderr)
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        print("gnuplot failed for %s: %s" % (out_png, r.stderr), file=sys.stderr)
        return False
    return True


# ---------------------------------------------------------------- RSS sampling

def _children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rfind(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(d))
    return kids


def _hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class RssSampler:
    """Polls VmHWM (peak RSS) of a process and its descendants every `period` seconds.
    VmHWM only grows, so the last sample before a process exits misses at most the growth
    of its final `period`."""

    def __init__(self, pid, period=0.1):
        self.pid, self.period = pid, period
        self.procs = {}  # pid -> {"role", "index", "hwm_kb"}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _describe(self, pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            return None
        args = [a.decode(errors="replace") for a in args if a]
        if not args:
            return None
        name = os.path.basename(args[0])
        index = None
        if "--worker-index" in args:
            try:
                index = int(args[args.index("--worker-index") + 1])
            except (ValueError, IndexError):
                pass
        shards = None
        if "--shards" in args and name == "asyncps-server":
            try:
                shards = int(args[args.index("--shards") + 1])
            except (ValueError, IndexError):
                pass
        role = {"asyncps-server": "server", "asyncps-worker": "worker",
                "asyncps-local": "launcher"}.get(name, name)
        return {"role": role, "index": index, "shards": shards, "hwm_kb": 0}

    def _sample(self):
        todo, seen = [self.pid], set()
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.add(p)
            h = _hwm_kb(p)
            if h is None:
                continue
            if p not in self.procs:
                d = self._describe(p)
                if d is None:
                    continue
                self.procs[p] = d
            self.procs[p]["hwm_kb"] = max(self.procs[p]["hwm_kb"], h)
            todo.extend(_children(p))

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.period)

    def stop(self):
        self._stop.set()
        self._t.join()
        return sorted(self.procs.values(), key=lambda d: (d["role"], d["index"] or 0))


# ---------------------------------------------------------------- one asyncps-local run

def run_local(algo, workers, *, shards, epochs, batch, window, optimizer, lr, train_limit,
              test_limit, seed, timeout, sample_rss=True, log=None, extra=()):
    """Runs asyncps-local once (with `extra` flags); returns a flat record (None figures when it failed)."""
    fd, jpath = tempfile.mkstemp(prefix="asyncps-suite-", suffix=".json")
    os.close(fd)
    cmd = [LOCAL, "--algo", algo, "--workers", str(workers), "--shards", str(shards),
           "--epochs", str(epochs), "--batch-size", str(batch), "--window", str(window),
           "--optimizer", optimizer, "--lr", str(lr), "--train-limit", str(train_limit),
           "--test-limit", str(test_limit), "--seed", str(seed), "--save-weights", "",
           "--report-json", jpath, "--timeout", str(timeout)] + list(extra)
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = RssSampler(p.pid) if sample_rss else None
    out, _ = p.communicate()
    wall = time.time() - t0
    procs = sampler.stop() if sampler else []
    if log:
        log.write("$ " + " ".join(c if c else "''" for c in cmd) + "\n" + out + "\n")
        log.flush()
    rec = {"algo": algo, "workers": workers, "shards": shards if algo != "single" else 0,
           "epochs": epochs, "batch": batch, "window": window, "optimizer": optimizer, "lr": lr,
           "train_limit": train_limit, "test_limit": test_limit, "seed": seed,
           "rc": p.returncode, "wall_s": round(wall, 2), "command": " ".join(c if c else "''" for c in cmd)}
    rep = None
    if p.returncode == 0:
        try:
            with open(jpath) as f:
                rep = json.load(f)
        except (OSError, ValueError):
            rep = None
    os.unlink(jpath)
    if rep is None:
        print(f"  FAILED: {algo} W={workers} epochs={epochs} rc={p.returncode}\n{out[-2000:]}",
              file=sys.stderr)
        rec.update(training_time=None, accuracy=None, updates=None, samples_per_second=None)
        return rec
    rec.update(training_time=rep.get("training_time"), accuracy=rep.get("accuracy"),
               updates=rep.get("number_of_parameter_server_updates"),
               samples_per_second=rep.get("samples_per_second"), samples=rep.get("samples"),
               staleness_mean=rep.get("staleness_mean"),
               worker_samples_per_second=[w.get("samples_per_second") for w in rep.get("workers", [])],
               worker_rows=[w.get("rows") for w in rep.get("workers", [])],
               shard_ranges=[s.get("range") for s in rep.get("shards", [])])
    # Peak RSS: the report's own peak_rss_kb where it has them, else /proc samples.
    mem = []
    rep_workers = rep.get("workers", [])
    rep_shards = rep.get("shards", [])
    if rep_workers and all("peak_rss_kb" in w for w in rep_workers):
        for w in rep_workers:
            mem.append({"role": "worker", "index": w.get("worker_index"), "rows": w.get("rows"),
                        "peak_rss_kb": w["peak_rss_kb"], "source": "report"})
        src = "report"
    else:
        src = "/proc VmHWM sampled every 0.1 s"
        rows = {w.get("worker_index"): w.get("rows") for w in rep_workers}
        for d in procs:
            if d["role"] == "worker":
                mem.append({"role": "worker", "index": d["index"], "rows": rows.get(d["index"]),
                            "peak_rss_kb": d["hwm_kb"], "source": src})
    shard_from_report = [s for s in rep_shards if "peak_rss_kb" in s]
    if rep_shards and len(shard_from_report) == len(rep_shards):
        for s in rep_shards:
            r = s.get("range", [0, 0])
            mem.append({"role": "shard", "index": s.get("shard_index"), "params": r[1] - r[0],
                        "peak_rss_kb": s["peak_rss_kb"], "source": "report"})
    elif "server_peak_rss_kb" in rep:
        params = sum((s.get("range", [0, 0])[1] - s.get("range", [0, 0])[0]) for s in rep_shards)
        mem.append({"role": "server", "index": None, "shards": len(rep_shards), "params": params,
                    "peak_rss_kb": rep["server_peak_rss_kb"], "source": "report"})
    else:
        params = sum((s.get("range", [0, 0])[1] - s.get("range", [0, 0])[0]) for s in rep_shards)
        for d in procs:
            if d["role"] == "server":
                mem.append({"role": "server", "index": None, "shards": d["shards"], "params": params,
                            "peak_rss_kb": d["hwm_kb"], "source": "/proc VmHWM sampled every 0.1 s"})
    for d in procs:
        if d["role"] == "launcher":
            mem.append({"role": "launcher", "index": None, "peak_rss_kb": d["hwm_kb"],
                        "source": "/proc VmHWM sampled every 0.1 s"})
    rec["memory"] = mem
    return rec


# ---------------------------------------------------------------- compressed wire

# name -> asyncps-local flags. top1% no-EF is the ablation that shows what error feedback buys.
COMPRESSION_VARIANTS = [
    ("f32", []),
    ("bf16", ["--pull-encoding", "bf16", "--commit-encoding", "bf16"]),
    ("top1%", ["--pull-encoding", "bf16", "--commit-encoding", "bf16", "--commit-top-k", "0.01"]),
    ("top1% no EF", ["--pull-encoding", "bf16", "--commit-encoding", "bf16", "--commit-top-k", "0.01",
                     "--no-error-feedback"]),
]
ACCURACY_BUDGET_POINTS = 0.5  # issue 5: a compressed run may lose at most 0.5 accuracy points


def run_setup(a):
    """Makes OUTDIR; returns the machine and the data settings the seed and compression runs share:
    quick 6,000 training rows, 2,000 test rows, 1 epoch; full all rows (0), 5 epochs."""
    os.makedirs(a.outdir, exist_ok=True)
    rows = a.train_limit if a.train_limit is not None else (6000 if a.quick else 0)
    test_rows = a.test_limit if a.test_limit is not None else (2000 if a.quick else 0)
    epochs = a.epochs if a.epochs is not None else (1 if a.quick else 5)
    return machine_info(), rows, test_rows, epochs


def cmd_compression(a):
    """The seed experiment with each wire compression, repeats interleaved, repeat r with seed+r
    for every variant (so that accuracy differences are paired)."""
    out = a.outdir
    q = a.quick
    m, rows, test_rows, epochs = run_setup(a)
    workers = a.workers or (2 if q else 3)
    repeats = a.repeats or (2 if q else 3)
    log = open(os.path.join(out, "compression.log"), "w")
    runs = []
    t_start = time.time()
    for rep in range(repeats):
        for name, flags in COMPRESSION_VARIANTS:
            print(f"[compression] repeat {rep + 1}/{repeats}: {name}", file=sys.stderr, flush=True)
            r = run_local("adag", workers, shards=a.shards, epochs=epochs, batch=a.batch, window=5,
                          optimizer=a.optimizer, lr=a.lr, train_limit=rows, test_limit=test_rows,
                          seed=a.seed + rep, timeout=a.timeout, sample_rss=False, log=log, extra=flags)
            r.update(variant=name, repeat=rep)
            runs.append(r)
    elapsed = time.time() - t_start
    log.close()
    base = {r["repeat"]: r for r in runs if r["variant"] == "f32"}
    table = []
    for name, flags in COMPRESSION_VARIANTS:
        rs = [r for r in runs if r["variant"] == name]
        deltas = [(r["accuracy"] - base[r["repeat"]]["accuracy"]) * 100 for r in rs
                  if r["accuracy"] is not None and base.get(r["repeat"], {}).get("accuracy") is not None]
        t = {"variant": name, "flags": " ".join(flags), "runs": len(rs),
             "failed": sum(r["training_time"] is None for r in rs),
             "training_time": median([r["training_time"] for r in rs]),
             "accuracy": median([r["accuracy"] for r in rs]),
             "accuracies": [r["accuracy"] for r in rs],
             "accuracy_delta_points": median(deltas) if deltas else None,
             "updates": median([r["updates"] for r in rs]),
             "samples_per_second": median([r["samples_per_second"] for r in rs])}
        t["within_budget"] = (t["accuracy_delta_points"] is not None
                              and t["accuracy_delta_points"] >= -ACCURACY_BUDGET_POINTS)
        table.append(t)
    f32_time = table[0]["training_time"]
    for t in table:
        t["time_vs_f32"] = t["training_time"] / f32_time if f32_time and t["training_time"] else None
    settings = {"mode": "quick" if q else "full", "algo": "adag", "workers": workers, "shards": a.shards,
                "epochs": epochs, "batch": a.batch, "window": 5, "optimizer": a.optimizer, "lr": a.lr,
                "train_limit": rows, "test_limit": test_rows, "seeds": [a.seed + r for r in range(repeats)]}
    with open(os.path.join(out, "compression.json"), "w") as f:
        json.dump({"machine": m, "settings": settings, "elapsed_s": round(elapsed, 1), "table": table,
                   "runs": runs}, f, indent=1)
    write_csv(os.path.join(out, "compression.csv"),
              [dict(t, accuracies=";".join(fmt(x, ".4f") for x in t["accuracies"]), commit=m["git_commit"],
                    nproc=m["nproc"]) for t in table],
              ["variant", "flags", "runs", "failed", "training_time", "time_vs_f32", "accuracy", "accuracies",
               "accuracy_delta_points", "within_budget", "updates", "samples_per_second", "nproc", "commit"])
    md = [f"## Compressed wire on the seed experiment ({settings['mode']} mode)", "", machine_line(m), "",
          f"settings: ADAG, W={workers}, {a.shards} shards, batch {a.batch}, window 5, {epochs} epoch(s) over "
          f"{rows or 60000:,} Fashion-MNIST rows, {a.optimizer} lr {a.lr}, test on {test_rows or 10000:,} rows; "
          f"{repeats} repeats, repeat r with seed {a.seed}+r for every variant, interleaved; medians; "
          f"accuracy change = median over repeats of (variant - f32 of the same seed), in points; "
          f"budget: at most {ACCURACY_BUDGET_POINTS} points lost; suite time {elapsed / 60:.1f} min", "",
          "| variant | training time s | vs f32 | test accuracy (each run) | accuracy change, points | within 0.5 | PS updates | samples/s |",
          "|---|---:|---:|---|---:|:---:|---:|---:|"]
    for t in table:
        each = ", ".join(fmt(x, ".4f") for x in t["accuracies"])
        md.append(f"| {t['variant']} | {fmt(t['training_time'], '.1f')} | "
                  f"{fmt(t['time_vs_f32'], '.2f')}{'x' if t['time_vs_f32'] else ''} | "
                  f"{fmt(t['accuracy'], '.4f')} ({each}) | "
                  f"{'-' if t['variant'] == 'f32' else fmt(t['accuracy_delta_points'], '+.2f')} | "
                  f"{'-' if t['variant'] == 'f32' else ('yes' if t['within_budget'] else 'NO')} | "
                  f"{fmt(t['updates'], '.0f')} | {fmt(t['samples_per_second'], '.0f')} |")
    md += ["", "bf16: pulls and commits in bfloat16; top1%: bf16 pulls, commits of each shard's 1% "
           "largest entries (position + bf16 value); EF: error feedback (the worker keeps what was not "
           "sent and adds it to its next commit). Flags: `asyncps-local --pull-encoding bf16 "
           "--commit-encoding bf16 [--commit-top-k 0.01] [--no-error-feedback]`.", ""]
    with open(os.path.join(out, "compression.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


# ---------------------------------------------------------------- seed table

MEMORY_NOTE = ("\nWhere the memory goes. A worker's peak comes while it **loads the data**: the gzip "
               "decompression of the IDX files (47 MB of training images in a growing buffer) and the "
               "float32 conversion of its own rows only (rows x 3,136 B: 63 MB for 20,000 rows at W=3). "
               "While training it holds the weights, gradients and the pulled center (3 x 4.2 MB), Adam's "
               "two moments (8.4 MB), its partition, batch activations (~2 MB at batch 16), the "
               "compression residual when commits are lossy (4.2 MB) and ~15-20 MB of code and libraries "
               "(C++ runtime, OpenBLAS with its one-thread GEMM buffers, ZeroMQ and its I/O thread). "
               "The shard server holds the centers (4.2 MB in all), a pooled reply buffer per shard and "
               "the commit being applied (one slice each), plus ~15 MB of code and ZeroMQ. The launcher "
               "(no budget) evaluates the final model on the test set.\n")


def memory_budget(m, workers_total, train_rows_total):
    """Budget in bytes for one memory record (targets of issue 5)."""
    MB = 1e6
    if m["role"] == "shard":
        return 1.25 * m["params"] * 4 + 20 * MB
    if m["role"] == "server":  # one process serving S shards: the sum of their budgets
        return 1.25 * m["params"] * 4 + 20 * MB * max(1, m.get("shards") or 1)
    if m["role"] == "worker":
        rows = m.get("rows") or train_rows_total // max(1, workers_total)
        params = PARAMS * 4
        adam = 2 * PARAMS * 4
        data = rows * 784 * 4 + rows * 4
        return 2 * (params + adam + data) + 50 * MB
    return None


def memory_md(rec, m_info, title):
    lines = [f"### Memory: peak RSS per process, {title}", "",
             f"`{rec['command']}`", "",
             "Budgets (issue 5): shard <= 1.25 x its parameter slice (float32) + 20 MB; worker <= "
             "2 x (parameters 4.20 MB + Adam state 8.39 MB + its data partition, rows x 784 x 4 B + "
             "4 B labels) + 50 MB. The shards all live in one `asyncps-server` process: its budget "
             "is the sum of its shards' (1.25 x 4.20 MB + 20 MB x S).", "",
             "| process | rows / params | peak RSS MB | budget MB | ratio | pass | source |",
             "|---|---:|---:|---:|---:|:---:|---|"]
    ok_all = True
    tot_rows = sum(w for w in (rec.get("worker_rows") or []) if w) or rec["train_limit"]
    for m in rec.get("memory", []):
        b = memory_budget(m, rec["workers"], tot_rows)
        peak = m["peak_rss_kb"] * 1024
        name = {"server": f"asyncps-server ({m.get('shards')} shards)", "shard": f"shard {m['index']}",
                "worker": f"worker {m['index']}", "launcher": "asyncps-local (launcher + evaluation)"}[m["role"]]
        size = (f"{m['rows']:,} rows" if m["role"] == "worker" and m.get("rows")
                else f"{m['params']:,} params" if m.get("params") else "")
        if b is None:
            lines.append(f"| {name} | {size} | {peak / 1e6:.1f} | - | - | (no target) | {m['source']} |")
            continue
        ok = peak <= b
        ok_all &= ok
        lines.append(f"| {name} | {size} | {peak / 1e6:.1f} | {b / 1e6:.1f} | {peak / b:.2f} | "
                     f"{'pass' if ok else 'FAIL'} | {m['source']} |")
    lines.append("")
    return "\n".join(lines), ok_all


def cmd_seed(a):
    out = a.outdir
    q = a.quick
    m, rows, test_rows, epochs = run_setup(a)
    workers = a.workers or ([1, 2] if q else [1, 2, 3, 4])
    algos = a.algos or ALGOS
    repeats = a.repeats or 1
    curve_epochs = a.curve_epochs if a.curve_epochs is not None else ([1, 2] if q else [1, 2, 3, 4, 5])
    curve_w = a.curve_workers or (2 if q else 3)
    window = lambda al: a.window if a.window is not None else SEED_WINDOW[al]
    settings = {"mode": "quick" if q else "full", "train_limit": rows, "test_limit": test_rows,
                "epochs": epochs, "batch": a.batch, "optimizer": a.optimizer, "lr": a.lr,
                "shards": a.shards, "seed": a.seed, "repeats": repeats, "algos": algos,
                "workers": workers,
                "windows": {al: window(al) or DEFAULT_WINDOW[al] for al in algos},
                "curve_epochs": curve_epochs, "curve_workers": curve_w}
    log = open(os.path.join(out, "seed.log"), "w")
    common = dict(shards=a.shards, batch=a.batch, optimizer=a.optimizer, lr=a.lr, train_limit=rows,
                  test_limit=test_rows, seed=a.seed, timeout=a.timeout, log=log)
    runs = []
    t_start = time.time()
    # Repeats go round the whole grid (A B C A B C) so that load from elsewhere spreads evenly.
    for rep in range(repeats):
        for al in algos:
            for w in workers:
                print(f"[seed] repeat {rep + 1}/{repeats}: {al} W={w} epochs={epochs} rows={rows or 60000}",
                      file=sys.stderr, flush=True)
                r = run_local(al, w, epochs=epochs, window=window(al), **common)
                r["repeat"] = rep
                runs.append(r)
    # Accuracy against wall time: separate runs with 1..E epochs at W=curve_w (the grid's
    # run at `epochs` is reused when it has the same settings).
    curve = []
    for al in algos:
        for e in curve_epochs:
            reuse = [r for r in runs if r["algo"] == al and r["workers"] == curve_w and r["epochs"] == e]
            if reuse:
                for r in reuse:
                    curve.append(dict(r, curve=True))
                continue
            print(f"[curve] {al} W={curve_w} epochs={e}", file=sys.stderr, flush=True)
            r = run_local(al, curve_w, epochs=e, window=window(al), **common)
            r["repeat"] = 0
            curve.append(r)
    elapsed = time.time() - t_start
    log.close()

    # Medians per (algo, W).
    table = []
    for al in algos:
        for w in workers:
            rs = [r for r in runs if r["algo"] == al and r["workers"] == w]
            table.append({
                "algo": al, "workers": w, "window": window(al) or DEFAULT_WINDOW[al],
                "runs": len(rs), "failed": sum(r["training_time"] is None for r in rs),
                "training_time": median([r["training_time"] for r in rs]),
                "accuracy": median([r["accuracy"] for r in rs]),
                "updates": median([r["updates"] for r in rs]),
                "samples_per_second": median([r["samples_per_second"] for r in rs]),
            })
    base = {t["workers"]: t for t in table if t["algo"] == "single"}
    for t in table:
        b = base.get(t["workers"])
        t["samples_per_second_vs_single"] = (t["samples_per_second"] / b["samples_per_second"]
                                             if b and b["samples_per_second"] and t["samples_per_second"] else None)
    with open(os.path.join(out, "seed.json"), "w") as f:
        json.dump({"machine": m, "settings": settings, "elapsed_s": round(elapsed, 1),
                   "table": table, "runs": runs, "curve": curve}, f, indent=1)
    write_csv(os.path.join(out, "seed.csv"),
              [dict(t, **{"nproc": m["nproc"], "cpu": m["cpu_model"], "commit": m["git_commit"],
                          "date": m["date"], "epochs": epochs, "train_limit": rows,
                          "batch": a.batch, "optimizer": a.optimizer}) for t in table],
              ["algo", "workers", "window", "epochs", "batch", "optimizer", "train_limit", "runs", "failed",
               "training_time", "accuracy", "updates", "samples_per_second", "samples_per_second_vs_single",
               "nproc", "cpu", "commit", "date"])
    write_csv(os.path.join(out, "curve.csv"), curve,
              ["algo", "workers", "epochs", "training_time", "accuracy", "samples_per_second", "wall_s"])

    # Markdown.
    md = [f"## The seed's table ({settings['mode']} mode)", "", machine_line(m), "",
          f"settings: batch {a.batch}, {a.optimizer} lr {a.lr or 'Keras default (0.001 for adam)'}, "
          f"{epochs} epoch(s) over {rows or 60000:,} Fashion-MNIST training rows, test on "
          f"{test_rows or 10000:,} rows, {a.shards} shards, seed {a.seed}; windows "
          + ", ".join(f"{al} {settings['windows'][al]}" for al in algos if al != "single")
          + " (easgd/eamsgd: their Dist-Keras default, as in the seed); each figure the median of "
          f"{repeats} run(s); suite time {elapsed / 60:.1f} min", "",
          "| algorithm | W | window | training time s | test accuracy | PS updates | samples/s | samples/s vs single (same W) |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in table:
        seed_row = (t["algo"] == "adag" and t["workers"] == 3 and t["window"] == 5 and epochs == 5
                    and a.batch == 16 and a.optimizer == "adam")
        b = "**" if seed_row else ""
        md.append(f"| {b}{t['algo']}{b} | {t['workers']} | {t['window'] if t['algo'] != 'single' else '-'} | "
                  f"{b}{fmt(t['training_time'], '.1f')}{b} | {b}{fmt(t['accuracy'], '.4f')}{b} | "
                  f"{b}{fmt(t['updates'], '.0f')}{b} | {fmt(t['samples_per_second'], '.0f')} | "
                  f"{fmt(t['samples_per_second_vs_single'], '.2f')}{'x' if t['samples_per_second_vs_single'] else ''}"
                  f"{' (failed runs: %d)' % t['failed'] if t['failed'] else ''} |")
    md.append("")
    seed_t = [t for t in table if t["algo"] == "adag" and t["workers"] == 3 and t["window"] == 5]
    if seed_t and epochs == 5 and not rows:
        t = seed_t[0]
        md += ["### The seed row against Dist-Keras", "",
               "| | training time s | test accuracy | PS updates |", "|---|---:|---:|---:|",
               f"| **asyncps, ADAG b16 w5 5 epochs Adam W=3 (Fashion-MNIST)** | **{fmt(t['training_time'], '.1f')}** | "
               f"**{fmt(t['accuracy'], '.4f')}** | **{fmt(t['updates'], '.0f')}** |",
               f"| Dist-Keras seed (MNIST, its machine) | {DIST_KERAS['training_time']:,} | "
               f"{DIST_KERAS['accuracy']} | {DIST_KERAS['updates']:,} |",
               f"| time ratio (different machines and data sets) | {DIST_KERAS['training_time'] / t['training_time']:.1f}x less |" if t['training_time'] else "| ratio | - |",
               "",
               "Not the same data set: Fashion-MNIST is harder than MNIST (a seed-CNN reaches ~0.91-0.92 "
               "where MNIST gives ~0.99), so compare the time and the update count, not the accuracy. "
               "Dist-Keras counts one more update (its counter starts at 1).", ""]
    else:
        md += [f"The seed row (ADAG b16 w5 5 epochs Adam W=3, all 60,000 rows) is only made in full mode; "
               f"Dist-Keras' seed: {DIST_KERAS['training_time']:,} s / {DIST_KERAS['accuracy']} / "
               f"{DIST_KERAS['updates']:,} updates (MNIST; ours is Fashion-MNIST).", ""]
    md += [] if not curve else [f"Accuracy against wall time: one run per point, {', '.join(map(str, curve_epochs))} epoch(s) at "
           f"W={curve_w} (runs of the table reused where identical), x = the run's training time: "
           "`seed_accuracy_vs_time.png`; samples/s against W: `seed_samples_per_s.png`.", ""]
    with open(os.path.join(out, "seed.md"), "w") as f:
        f.write("\n".join(md))

    # Memory of the seed run, else the largest run made (most rows per worker, then most W).
    ok_runs = [r for r in runs if r.get("memory")]
    seed_runs = [r for r in ok_runs if r["algo"] == "adag" and r["workers"] == 3 and r["epochs"] == 5
                 and r["window"] == 5 and not r["train_limit"]]
    if seed_runs:
        mr, title = seed_runs[0], "the seed run"
    elif ok_runs:
        nonsingle = [r for r in ok_runs if r["algo"] != "single"] or ok_runs
        mr = max(nonsingle, key=lambda r: ((r["train_limit"] or 60000), r["workers"], r["algo"] == "adag"))
        title = (f"the largest PS run made ({mr['algo']}, W={mr['workers']}, "
                 f"{mr['train_limit'] or 60000:,} rows; the seed run is full mode's)")
    else:
        mr = None
    if mr:
        mem_text, ok = memory_md(mr, m, title)
        mem_text += MEMORY_NOTE
        with open(os.path.join(out, "memory.md"), "w") as f:
            f.write(mem_text)
        with open(os.path.join(out, "memory.json"), "w") as f:
            json.dump({"machine": m, "run": {k: v for k, v in mr.items()}, "title": title, "pass": ok,
                       "budgets_bytes": [memory_budget(x, mr["workers"], mr["train_limit"] or 60000)
                                         for x in mr["memory"]]}, f, indent=1)
    plots_seed(out, algos, with_curve=bool(curve))
    print("\n".join(md))
    if mr:
        print(mem_text)


def plots_seed(out, algos, with_curve=True):
    algo_list = " ".join(algos)
    if with_curve:
        gnuplot(f"""
set terminal pngcairo size 900,560 noenhanced
set output '{out}/seed_accuracy_vs_time.png'
set datafile separator ','
set key bottom right
set grid
set title 'Test accuracy against training time (one run per point, 1..E epochs)'
set xlabel 'training time, s'
set ylabel 'test accuracy (Fashion-MNIST)'
algos = '{algo_list}'
plot for [a in algos] '{out}/curve.csv' using (strcol(1) eq a ? $4 : NaN):(strcol(1) eq a ? $5 : NaN) \\
     with linespoints title a
""", f"{out}/seed_accuracy_vs_time.png")
    gnuplot(f"""
set terminal pngcairo size 900,560 noenhanced
set output '{out}/seed_samples_per_s.png'
set datafile separator ','
set key top left
set grid
set title 'Training samples/s (all workers) against W'
set xlabel 'workers W'
set ylabel 'samples/s'
set xtics 1
algos = '{algo_list}'
plot for [a in algos] '{out}/seed.csv' using (strcol(1) eq a ? $2 : NaN):(strcol(1) eq a ? $13 : NaN) \\
     with linespoints title a
""", f"{out}/seed_samples_per_s.png")


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


# ---------------------------------------------------------------- summary

def cmd_summary(a):
    out = a.outdir
    m = machine_info()
    parts = [f"# asyncps benchmark suite: summary", "",
             f"`bench/suite/run.sh {a.command_outdir or out}{' --quick' if a.quick else ''}`", "",
             machine_line(m), ""]
    for title, path in [("PS throughput (bench/ps)", "ps/ps.md"), ("Worker compute (bench/compute)", "compute/compute.md"),
                        (None, "seed.md"), (None, "memory.md"), (None, "compression.md"),
                        (None, "scaling/scaling.md")]:
        p = os.path.join(out, path)
        if not os.path.exists(p):
            parts += [f"({path}: not made in this run)", ""]
            continue
        if title:
            parts += [f"## {title}", ""]
        txt = open(p).read().rstrip() + "\n"
        # demote the sub-reports' own top-level headings
        txt = "\n".join(("#" + l if l.startswith("#") else l) for l in txt.splitlines()) if title else txt
        parts += [txt, ""]
    pngs = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs
                  if f.endswith(".png"))
    parts += ["## Plots", ""] + [f"- `{p}`" for p in pngs] + [""]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(parts))
    with open(os.path.join(out, "machine.json"), "w") as f:
        json.dump(m, f, indent=1)
    print("\n".join(parts))


def cmd_plots(a):
    out = a.outdir
    if os.path.exists(os.path.join(out, "seed.json")):
        sj = json.load(open(os.path.join(out, "seed.json")))
        plots_seed(out, sj["settings"]["algos"], with_curve=bool(sj.get("curve")))
    sc = os.path.join(out, "scaling", "scaling.json")
    if os.path.exists(sc):
        m = json.load(open(sc))["machine"]
        plot_scaling(os.path.join(out, "scaling"), m["nproc"], m["cpu_model"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def train_opts(p):
        p.add_argument("--batch", type=int, default=16)
        p.add_argument("--optimizer", default="adam")
        p.add_argument("--lr", type=float, default=0.001)
        p.add_argument("--shards", type=int, default=2)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--train-limit", type=int, default=None, help="rows (0: all 60,000)")
        p.add_argument("--test-limit", type=int, default=None, help="test rows (0: all 10,000)")
        p.add_argument("--timeout", type=int, default=3600, help="per asyncps-local run, s")
        p.add_argument("--repeats", type=int, default=None)

    s = sub.add_parser("seed")
    s.add_argument("outdir")
    s.add_argument("--quick", action="store_true")
    s.add_argument("--algos", nargs="+", choices=ALGOS)
    s.add_argument("--workers", nargs="+", type=int)
    s.add_argument("--epochs", type=int)
    s.add_argument("--window", type=int, help="one window for all (default: the seed's per rule)")
    s.add_argument("--curve-epochs", nargs="*", type=int, help="epochs of the accuracy-vs-time runs ('' none)")
    s.add_argument("--curve-workers", type=int)
    train_opts(s)

    z = sub.add_parser("compression", help="the seed experiment with each wire compression")
    z.add_argument("outdir")
    z.add_argument("--quick", action="store_true")
    z.add_argument("--workers", type=int)
    z.add_argument("--epochs", type=int)
    train_opts(z)

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
    train_opts(c)

    u = sub.add_parser("summary")
    u.add_argument("outdir")
    u.add_argument("--quick", action="store_true")
    u.add_argument("--command-outdir")

    pl = sub.add_parser("plots", help="redraw the PNGs from OUTDIR's CSV files")
    pl.add_argument("outdir")

    a = ap.parse_args()
    if not os.access(LOCAL, os.X_OK) and a.cmd not in ("summary", "plots"):
        sys.exit(f"{LOCAL} not found: build it (cmake --build build --target asyncps-local asyncps-server asyncps-worker)")
    if a.cmd == "scaling" and a.repeats is None:
        a.repeats = 3
    {"seed": cmd_seed, "compression": cmd_compression, "scaling": cmd_scaling, "summary": cmd_summary,
     "plots": cmd_plots}[a.cmd](a)


if __name__ == "__main__":
    main()
