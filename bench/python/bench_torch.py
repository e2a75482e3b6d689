#!/usr/bin/python3
"""PyTorch workers through asyncps against the same PyTorch workers with no PS.

    PYTHONPATH=build/python /usr/bin/python3 bench/python/bench_torch.py OUT [--repeats 3]
        [--train-limit 12000] [--epochs 1] [--seed-experiment [--seed-sides torch,cpp]]
        [--local-bin build/bin/asyncps-local]

1. Throughput: examples/torch/launch.py with --algo adag (3 PyTorch workers,
   2 shards, window 5, batch 16, Adam) and with --algo single (the same worker
   script, the same data, model, optimizer and DataLoader, no PS), run
   alternately --repeats times; samples/s of all workers together (samples /
   (last worker's end - first worker's first batch)) and samples per
   CPU-second (workers' training loops + server); medians and their ratios.
2. --seed-experiment: the seed's settings (ADAG, window 5, batch 16, 5 epochs
   of 60,000 rows, Adam, 3 workers, 2 shards) once with PyTorch workers
   (launch.py) and once with C++ workers (asyncps-local), one after the other
   (--seed-sides to run one of them): training time, accuracy, PS updates.

Writes OUT/results.json and OUT/summary.md; prints the summary. The machine's
load (uptime) is recorded before and after each part: other jobs on the same
cores change every number here.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAUNCH = os.path.join(ROOT, "examples", "torch", "launch.py")


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_json(cmd, path, timeout):
    r = subprocess.run(cmd + ["--report-json", path], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    with open(path) as f:
        return json.load(f)


def recorded_commit():
    """The commit as bench/commit.sh records it; exits when it refuses a dirty tree."""
    run = subprocess.run([os.path.join(ROOT, "bench", "commit.sh")], stdout=subprocess.PIPE, text=True)
    if run.returncode != 0:
        sys.exit(1)  # bench/commit.sh said why on stderr
    return run.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-limit", type=int, default=12000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--seed-experiment", action="store_true")
    ap.add_argument("--seed-sides", default="torch,cpp", help="which seed runs: torch, cpp or both (torch,cpp)")
    ap.add_argument("--local-bin", default=os.path.join(ROOT, "build", "bin", "asyncps-local"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    import torch
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                           "torch": torch.__version__},
               "commit": recorded_commit(),
               "settings": vars(a)}
    common = ["--workers", str(a.workers), "--shards", "2", "--window", "5", "--batch-size", "16", "--epochs",
              str(a.epochs), "--train-limit", str(a.train_limit), "--test-limit", "2000", "--save-weights", ""]

    # 1. throughput, alternating so that load changes hit both sides alike (--repeats 0: skipped)
    if a.repeats > 0:
        load_before = uptime()
        runs = {"adag": [], "single": []}
        cpu_runs = {"adag": [], "single": []}
        for r in range(a.repeats):
            for algo in ("adag", "single"):
                rep = run_json([sys.executable, LAUNCH, "--algo", algo] + common,
                               os.path.join(a.out, f"throughput-{algo}-{r}.json"), 900)
                runs[algo].append(rep["samples_per_second"])
                cpu_runs[algo].append(rep["samples_per_cpu_second"])
                print(f"run {r} {algo}: {rep['samples_per_second']:.0f} samples/s, "
                      f"{rep['samples_per_cpu_second']:.0f} samples per CPU-second, "
                      f"{rep['number_of_parameter_server_updates']} updates", flush=True)
        med = {k: statistics.median(v) for k, v in runs.items()}
        cmed = {k: statistics.median(v) for k, v in cpu_runs.items()}
        results["throughput"] = {"samples_per_second": runs, "median": med, "ratio": med["adag"] / med["single"],
                                 "samples_per_cpu_second": cpu_runs, "cpu_median": cmed,
                                 "cpu_ratio": cmed["adag"] / cmed["single"],
                                 "load_before": load_before, "load_after": uptime()}

    # 2. the seed experiment, PyTorch against C++ workers
    if a.seed_experiment:
        # The seed's settings, spelled out for both launchers (asyncps-local's
        # own default window is ADAG's Dist-Keras default, 12).
        settings = ["--workers", "3", "--shards", "2", "--algo", "adag", "--window", "5", "--batch-size", "16",
                    "--epochs", "5", "--lr", "0.001", "--seed", "1", "--save-weights", ""]
        seed = {"load_before": uptime()}
        keys = ("training_time", "accuracy", "number_of_parameter_server_updates", "expected_updates")
        commands = {"torch": [sys.executable, LAUNCH] + settings, "cpp": [a.local_bin] + settings}
        for side in a.seed_sides.split(","):
            rep = run_json(commands[side], os.path.join(a.out, f"seed-{side}.json"), 3600)
            seed[side] = {k: rep[k] for k in keys}
            seed["load_after_" + side] = uptime()
        results["seed"] = seed

    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    lines = [f"# PyTorch workers through asyncps ({time.strftime('%Y-%m-%d')}, commit {results['commit']})", "",
             f"Machine: {results['machine']['cpus']} CPUs, {results['machine']['platform']}, PyTorch "
             f"{results['machine']['torch']}.", ""]
    if a.repeats > 0:
        med, cmed, runs, cpu_runs = (results["throughput"][k] for k in ("median", "cpu_median", "samples_per_second",
                                                                        "samples_per_cpu_second"))
        lines += [
             f"Throughput: {a.workers} PyTorch workers, batch 16, Adam, {a.epochs} epoch(s) of {a.train_limit} rows, "
             f"medians of {a.repeats} alternating runs.", "",
             "| | samples/s (median) | runs | samples per CPU-second (median) | runs |",
             "|---|---:|---|---:|---|",
             f"| through asyncps (ADAG, window 5, 2 shards) | {med['adag']:.0f} | "
             + ", ".join(f"{v:.0f}" for v in runs["adag"]) + f" | {cmed['adag']:.0f} | "
             + ", ".join(f"{v:.0f}" for v in cpu_runs["adag"]) + " |",
             f"| no PS (--algo single) | {med['single']:.0f} | " + ", ".join(f"{v:.0f}" for v in runs["single"])
             + f" | {cmed['single']:.0f} | " + ", ".join(f"{v:.0f}" for v in cpu_runs["single"]) + " |",
             f"| **ratio** | **{results['throughput']['ratio']:.3f}x** | "
             f"| **{results['throughput']['cpu_ratio']:.3f}x** | |", "",
             "CPU-seconds: the workers' training loops (every thread: PyTorch, the client, ZeroMQ) plus the whole "
             "server; other jobs on the same cores change them far less than wall-clock time.", "",
             f"Load: before `{results['throughput']['load_before']}`; after `{results['throughput']['load_after']}`."]
    if a.seed_experiment:
        s = results["seed"]
        lines += ["", "Seed experiment (ADAG, batch 16, window 5, 5 epochs, Adam, 3 workers, 2 shards):", "",
                  "| workers | training time | accuracy | PS updates |", "|---|---:|---:|---:|"]
        for name, key in (("3 PyTorch workers (examples/torch)", "torch"), ("3 C++ workers (asyncps-local)", "cpp")):
            if key in s:
                lines.append(f"| {name} | {s[key]['training_time']:.1f} s | {s[key]['accuracy']:.4f} | "
                             f"{s[key]['number_of_parameter_server_updates']:,} (expected "
                             f"{s[key]['expected_updates']:,}) |")
        lines += ["", f"Load: before `{s['load_before']}`; "
                  + "; ".join(f"after the {k[11:]} run `{v}`" for k, v in s.items() if k.startswith("load_after_"))
                  + "."]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
