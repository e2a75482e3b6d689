#!/usr/bin/python3
"""The seed experiment with PyTorch workers: starts asyncps-server on
127.0.0.1 (OS-chosen ports), W PyTorch workers (worker.py) as separate
processes, waits for them, evaluates the PS's final weights on the test set
and prints Dist-Keras' three report lines (Training time, Accuracy, Number of
parameter server updates):

    PYTHONPATH=build/python /usr/bin/python3 examples/torch/launch.py

Defaults are the seed's: ADAG, batch 16, window 5, 5 epochs, Adam, 3 workers,
2 shards. --algo single trains the same workers with no PS (worker 0's model
is evaluated). Exit status: 0 done, 1 a process failed (named, with its last
output).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import asyncps
import asyncps.mnist
import asyncps.server

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
REPORTER_ID = 0xFFFFFFF0  # the launcher's own connection: never a worker's id


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--bind", default="tcp://127.0.0.1:*", help="the first shard's endpoint (or ipc://PATH)")
    ap.add_argument("--algo", default="adag")
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=asyncps.mnist.DEFAULT_DIR)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--test-limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    ap.add_argument("--save-weights", default="asyncps-torch-weights.npz", help="final weights ('' to skip)")
    ap.add_argument("--report-json", default="")
    ap.add_argument("--timeout", type=float, default=0, help="stop everything and fail after S seconds (0: none)")
    return ap.parse_args(argv)


def worker_command(a, i, servers, work):
    cmd = [sys.executable, WORKER, "--worker-index", str(i), "--num-workers", str(a.workers), "--algo", a.algo,
           "--window", str(a.window), "--batch-size", str(a.batch_size), "--epochs", str(a.epochs), "--lr",
           str(a.lr), "--seed", str(a.seed), "--data", a.data, "--train-limit", str(a.train_limit), "--threads",
           str(a.threads), "--report-json", os.path.join(work, f"worker-{i}.json")]
    if servers:
        cmd += ["--servers", ",".join(servers)]
    if a.algo == "single" and i == 0:
        cmd += ["--save-weights", os.path.join(work, "worker-0.npz")]
    return cmd


def run_workers(a, servers, work):
    """Runs the workers to completion; returns None, or why one failed."""
    env = dict(os.environ)
    # The package this launcher imported, for the children too.
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(asyncps.__file__))] +
                                        ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    procs, logs = [], []
    for i in range(a.workers):
        log = open(os.path.join(work, f"worker-{i}.log"), "w+")
        logs.append(log)
        procs.append(subprocess.Popen(worker_command(a, i, servers, work), stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env))
    start, printed = time.monotonic(), [0] * a.workers
    failure = None
    while failure is None and any(p.poll() is None for p in procs):
        time.sleep(0.2)
        for i, (p, log) in enumerate(zip(procs, logs)):
            log.flush()
            with open(log.name) as f:  # relay new output lines
                lines = f.read().splitlines()
            for line in lines[printed[i]:]:
                print(line, flush=True)
            printed[i] = len(lines)
            if p.poll() not in (None, 0):
                failure = f"worker {i} exited with status {p.returncode}; last output:\n  " + \
                          "\n  ".join(lines[-8:])
        if a.timeout and time.monotonic() - start > a.timeout:
            failure = f"--timeout of {a.timeout:g} s reached: stopped all processes"
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
    if failure is None:
        for i, p in enumerate(procs):
            if p.returncode != 0:
                failure = f"worker {i} exited with status {p.returncode}"
    for log in logs:
        log.close()
    return failure


def main(argv=None):
    a = parse_args(argv)
    import asyncps.torch  # noqa: E402  (after argument parsing: --help needs no torch)

    work = tempfile.mkdtemp(prefix="asyncps-torch-")
    server = None
    try:
        servers = []
        if a.algo != "single":
            server = asyncps.server.LocalServer(shards=a.shards, bind=a.bind).start()
            servers = server.endpoints
        failure = run_workers(a, servers, work)
        if failure:
            print(f"launch.py: {failure}", file=sys.stderr)
            return 1
        reports = []
        for i in range(a.workers):
            with open(os.path.join(work, f"worker-{i}.json")) as f:
                reports.append(json.load(f))

        model = asyncps.torch.seed_cnn(seed=a.seed)
        updates, expected, stats = 0, sum(r["expected_commits"] for r in reports), []
        if servers:
            with asyncps.Client(servers, model.layout, worker_id=REPORTER_ID, algorithm=a.algo) as client:
                client.pull(model.flat.numpy())
                stats = client.stats()
            counts = {s["updates"] for s in stats}
            if len(counts) != 1:
                print(f"launch.py: shards disagree on the update count: {sorted(counts)}", file=sys.stderr)
                return 1
            updates = counts.pop()
        else:
            asyncps.torch.load_weights(os.path.join(work, "worker-0.npz"), model.named_parameters())
        xt, yt = asyncps.mnist.load(a.data, "test", a.test_limit)
        accuracy, test_loss = asyncps.torch.evaluate(model, xt, yt)
        if a.save_weights:
            asyncps.torch.save_weights(a.save_weights, model.named_parameters())

        server_cpu = 0.0
        if server:
            server.stop()
            server_cpu = server.cpu_seconds or 0.0
        # CPU seconds of the training: the workers' loops and the whole server
        # (a measure that other jobs on the same cores hardly change).
        cpu_seconds = sum(r["cpu_seconds"] for r in reports) + server_cpu
        training_time = max(r["end_unix"] for r in reports) - min(r["first_batch_unix"] for r in reports)
        samples = sum(r["samples"] for r in reports)
        print(f"Training time: {training_time:.2f}")
        print(f"Accuracy: {accuracy:.4f}")
        print(f"Number of parameter server updates: {updates}")
        print(f"Expected updates (the workers' schedules): {expected}"
              + ("" if updates == expected else "  MISMATCH"))
        print(f"Throughput: {samples / training_time:.0f} samples/s ({samples} samples, {a.workers} PyTorch "
              f"workers, {a.algo}, window {a.window}, batch {a.batch_size}); test loss {test_loss:.4f} on "
              f"{len(yt)} rows")
        print(f"CPU: {cpu_seconds:.1f} s ({samples / cpu_seconds:.0f} samples per CPU-second; server "
              f"{server_cpu:.1f} s)")
        print("Commits per worker: " + ", ".join(f"{r['worker_index']}: {r['commits']}" for r in reports))
        if a.save_weights:
            print(f"Weights: {a.save_weights}")
        if a.report_json:
            with open(a.report_json, "w") as f:
                json.dump({"training_time": training_time, "accuracy": accuracy, "test_loss": test_loss,
                           "number_of_parameter_server_updates": updates, "expected_updates": expected,
                           "samples": samples,
                           "samples_per_second": samples / training_time, "cpu_seconds": cpu_seconds,
                           "server_cpu_seconds": server_cpu,
                           "samples_per_cpu_second": samples / cpu_seconds, "workers": reports,
                           "shards": stats, "settings": vars(a)}, f, indent=2, default=str)
        return 0 if updates == expected else 1
    finally:
        if server:
            server.stop()  # idempotent
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
