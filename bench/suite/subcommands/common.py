"""What the benchmark suite's subcommands share: the machine record, formatting, CSV,
gnuplot, peak-RSS sampling, one asyncps-local run (run_local), the seed experiment's
constants and the training flags (train_opts)."""
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

# bench/suite (this file is bench/suite/subcommands/common.py)
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
LOCAL = os.path.join(BUILD, "bin", "asyncps-local")
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

    commit = subprocess.run([os.path.join(ROOT, "bench", "commit.sh")], stdout=subprocess.PIPE, text=True)
    if commit.returncode != 0:
        sys.exit(1)  # bench/commit.sh said why on stderr
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "mem_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "hostname": platform.node(),
        "git_commit": commit.stdout.strip(),
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


def _cpu_s(pid):
    """utime + stime of a process from /proc/PID/stat, in seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        fields = s[s.rfind(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


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
    """Polls VmHWM (peak RSS) and CPU time (utime + stime) of a process and its descendants
    every `period` seconds. Both only grow, so the last sample before a process exits misses
    at most the growth of its final `period`."""

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
        return {"role": role, "index": index, "shards": shards, "hwm_kb": 0, "cpu_s": 0.0}

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
            self.procs[p]["cpu_s"] = max(self.procs[p]["cpu_s"], _cpu_s(p) or 0.0)
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
               shard_ranges=[s.get("range") for s in rep.get("shards", [])],
               max_clock_gap=rep.get("max_clock_gap"), max_staleness=rep.get("max_staleness"),
               staleness_max=rep.get("staleness_max"), curve=rep.get("curve", []),
               worker_blocked_seconds=[w.get("blocked_seconds") for w in rep.get("workers", [])],
               worker_train_seconds=[w.get("train_seconds") for w in rep.get("workers", [])])
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
    servers = [d for d in procs if d["role"] == "server"]
    rec["server_cpu_s"] = round(sum(d["cpu_s"] for d in servers), 2) if servers else None
    return rec


def run_setup(a):
    """Makes OUTDIR; returns the machine and the data settings the seed and compression runs share:
    quick 6,000 training rows, 2,000 test rows, 1 epoch; full all rows (0), 5 epochs."""
    os.makedirs(a.outdir, exist_ok=True)
    rows = a.train_limit if a.train_limit is not None else (6000 if a.quick else 0)
    test_rows = a.test_limit if a.test_limit is not None else (2000 if a.quick else 0)
    epochs = a.epochs if a.epochs is not None else (1 if a.quick else 5)
    return machine_info(), rows, test_rows, epochs


def seed_run_parser(sub, name, help):
    """A subcommand that runs the seed experiment in variants: OUTDIR, --quick, --workers W,
    --epochs and the training flags (train_opts)."""
    p = sub.add_parser(name, help=help)
    p.add_argument("outdir")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--workers", type=int)
    p.add_argument("--epochs", type=int)
    train_opts(p)
    return p


def train_opts(p):
    """The training flags every subcommand that runs asyncps-local takes."""
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=None, help="rows (0: all 60,000)")
    p.add_argument("--test-limit", type=int, default=None, help="test rows (0: all 10,000)")
    p.add_argument("--timeout", type=int, default=3600, help="per asyncps-local run, s")
    p.add_argument("--repeats", type=int, default=None)
