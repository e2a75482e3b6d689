"""asyncps.run: start N copies of a training script against a parameter server,
as `horovodrun -np N python train.py` or torchrun do.

    python3 -m asyncps.run --workers 3 [--shards 2 | --servers tcp://h:p,tcp://h:p] \\
        [--algorithm adag] [--window 5] [--rho R] [--eta E] [--momentum M] [--overlap] [--shared-memory on|off] \\
        train.py [script args...]                      # or: asyncps-run --workers 3 train.py ...

Without --servers it starts a local cluster (asyncps.server.LocalServer with
--shards shards, default 1, on 127.0.0.1) and stops it at the end, on any
failure and on Ctrl-C. It runs `sys.executable train.py args...` N times, each
with these environment variables (asyncps.torch.DistributedOptimizer reads
them when it is given no servers, worker_id, ...):

    ASYNCPS_SERVERS      the shards' endpoints, in shard order, comma-separated
    ASYNCPS_WORKER_ID    this worker's id: 0 .. N-1 (as asyncps-local's --worker-index)
    ASYNCPS_NUM_WORKERS  N
    ASYNCPS_ALGORITHM    downpour, adag (default), dynsgd, easgd or eamsgd
    ASYNCPS_WINDOW, ASYNCPS_RHO, ASYNCPS_ETA, ASYNCPS_MOMENTUM
                         the rule's parameters: set only when given (else
                         left as they are in the launcher's environment)
    ASYNCPS_OVERLAP      1 with --overlap (else left as it is)

and PYTHONUNBUFFERED=1 (unless set), so that lines come as they are printed.
Every line a worker writes is printed with the prefix "[worker K] " (K its
ASYNCPS_WORKER_ID), stdout to stdout and stderr to stderr.

Fail fast: when a worker exits with a non-zero status, the others get SIGTERM
(SIGKILL after STOP_GRACE_SECONDS), as does the local server, and the launcher
exits with status 1 saying which worker failed, how, and its last lines. Ctrl-C
(or SIGTERM) stops everything the same way; the exit status is then 130 (143).
Bad arguments: a usage error, exit status 2.

When every worker succeeded it prints asyncps-local's report lines for what a
launcher can know (the accuracy is the script's to print):

    Training time: 12.34                       (s, wall: first worker started to last one done)
    Number of parameter server updates: 1500   (commits applied, from the shards' counters)
    staleness tau: mean 2.01, max 7

The update count and tau come from the local cluster's status endpoint
(asyncps-server --metrics-bind on 127.0.0.1, /status.json): an observer client
would need the run's layout, which only the script knows. With --servers the
launcher has no such endpoint and prints the training time only.
"""
import argparse
import collections
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

# The environment each worker gets (asyncps.torch reads the same names).
ENV_SERVERS = "ASYNCPS_SERVERS"
ENV_WORKER_ID = "ASYNCPS_WORKER_ID"
ENV_NUM_WORKERS = "ASYNCPS_NUM_WORKERS"
ENV_ALGORITHM = "ASYNCPS_ALGORITHM"
ENV_WINDOW = "ASYNCPS_WINDOW"
ENV_RHO = "ASYNCPS_RHO"
ENV_ETA = "ASYNCPS_ETA"
ENV_MOMENTUM = "ASYNCPS_MOMENTUM"
ENV_OVERLAP = "ASYNCPS_OVERLAP"

# Worker ids are FIRST_WORKER_ID .. FIRST_WORKER_ID + N - 1, as asyncps-local's
# --worker-index (which asyncps-worker uses as its client's worker_id).
FIRST_WORKER_ID = 0

# Seconds between SIGTERM and SIGKILL when stopping the workers and the server.
STOP_GRACE_SECONDS = 5.0
# Lines of a failed worker's output repeated in the failure message.
TAIL_LINES = 10

# Kept in step with asyncps.ALGORITHMS (not imported here: `--help` and a usage
# error need no extension).
ALGORITHMS = ("downpour", "adag", "dynsgd", "easgd", "eamsgd", "average")

_PROG = "asyncps.run"
_METRICS_LINE = re.compile(r"metrics on (http://\S+)/metrics")


class _Terminated(Exception):
    """The launcher got SIGTERM."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, not {value}")
    return value


def _finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, not {text!r}")
    return value


def _parser():
    p = argparse.ArgumentParser(
        prog=_PROG,
        usage="%(prog)s --workers N [--shards S | --servers ENDPOINTS] [--algorithm A] [--window W] [--rho R] "
              "[--eta E] [--momentum M] [--overlap] [--shared-memory on|off] script.py [script args...]",
        description="Runs N copies of a Python training script against an asyncps parameter server (a local "
                    "cluster unless --servers), each with ASYNCPS_SERVERS, ASYNCPS_WORKER_ID (0..N-1), "
                    "ASYNCPS_NUM_WORKERS and ASYNCPS_ALGORITHM (and ASYNCPS_WINDOW/RHO/ETA/MOMENTUM when given) "
                    "in its environment. Stops everything when a worker fails (exit 1) or on Ctrl-C (exit 130).")
    p.add_argument("--workers", "-n", "-np", type=_positive_int, required=True, metavar="N",
                   help="worker processes to start")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--shards", type=_positive_int, metavar="S",
                       help="shards of the local cluster the launcher starts (default 1)")
    where.add_argument("--servers", metavar="ENDPOINTS",
                       help="comma-separated endpoints of a running asyncps-server, in shard order "
                            "(no local cluster is started)")
    p.add_argument("--algorithm", default="adag", choices=ALGORITHMS, help="the rule (default: adag)")
    p.add_argument("--window", type=_positive_int, metavar="W", help="communication window (batches)")
    p.add_argument("--rho", type=_finite_float, metavar="R", help="EASGD/EAMSGD elastic coefficient")
    p.add_argument("--eta", type=_finite_float, metavar="E", help="EASGD/EAMSGD learning rate of the elastic step")
    p.add_argument("--momentum", type=_finite_float, metavar="M", help="EAMSGD momentum")
    p.add_argument("--overlap", action="store_true",
                   help="exchange in the background while the next window trains (ASYNCPS_OVERLAP=1; not with "
                        "average)")
    p.add_argument("--shared-memory", choices=("on", "off"),
                   help="let the local cluster's shards move payloads through shared memory (asyncps-server "
                        "--shared-memory; the clients opt in with shared_memory=True); default on")
    p.add_argument("script", nargs="?", help="the Python script each worker runs (with sys.executable)")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def _parse(argv):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.script is None:
        parser.error("no script given: asyncps.run --workers N [options] script.py [script args...]")
    if args.overlap and args.algorithm == "average":
        parser.error("--overlap: average is synchronous (its pull waits for every worker's commit)")
    if args.servers is not None:
        servers = [s.strip() for s in args.servers.split(",") if s.strip()]
        if not servers:
            parser.error("--servers: expected comma-separated endpoints such as tcp://ps-0:5555,tcp://ps-1:5555")
        args.servers = servers
        if args.shared_memory is not None:
            parser.error("--shared-memory configures the local cluster: not with --servers")
    if not os.path.isfile(args.script):
        parser.error(f"script {args.script}: no such file")
    return args


def _say(message):
    sys.stderr.write(f"{_PROG}: {message}\n")
    sys.stderr.flush()


def _describe_exit(status):
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = str(-status)
        return f"was killed by signal {name}"
    return f"exited with status {status}"


class _Output:
    """Copies lines from pipes to our stdout/stderr with a prefix, one line at
    a time (never interleaved), flushing each; keeps each worker's last lines."""

    def __init__(self):
        self._lock = threading.Lock()
        self.tails = {}

    def relay(self, pipe, stream, prefix, key):
        tail = self.tails.setdefault(key, collections.deque(maxlen=TAIL_LINES))
        out = getattr(stream, "buffer", None)
        try:
            for line in iter(pipe.readline, b""):
                if not line.endswith(b"\n"):
                    line += b"\n"
                with self._lock:
                    tail.append(line.decode(errors="replace").rstrip("\n"))
                    if out is not None:
                        out.write(prefix + line)
                    else:
                        stream.write((prefix + line).decode(errors="replace"))
                    stream.flush()
        except (OSError, ValueError):
            pass  # our stream closed: nothing more to copy
        finally:
            pipe.close()

    def tail(self, key):
        with self._lock:
            return list(self.tails.get(key, ()))


class _Worker:
    def __init__(self, worker_id, argv, env, output):
        self.id = worker_id
        # A process group of its own: stopping it stops its children too
        # (DataLoader workers), and Ctrl-C reaches the launcher alone.
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, start_new_session=True)
        prefix = f"[worker {worker_id}] ".encode()
        self.readers = [threading.Thread(target=output.relay, args=(pipe, stream, prefix, worker_id), daemon=True)
                        for pipe, stream in ((self.process.stdout, sys.stdout), (self.process.stderr, sys.stderr))]
        for r in self.readers:
            r.start()

    def signal(self, sig):
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def join_readers(self, timeout):
        deadline = time.monotonic() + timeout
        for r in self.readers:
            r.join(max(0.0, deadline - time.monotonic()))


def _stop_workers(workers, grace=STOP_GRACE_SECONDS):
    """SIGTERM to every running worker's process group, SIGKILL to those left
    after `grace` seconds; reaps them all."""
    running = [w for w in workers if w.process.poll() is None]
    for w in running:
        w.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(w.process.poll() is None for w in running):
        time.sleep(0.02)
    for w in running:
        if w.process.poll() is None:
            w.signal(signal.SIGKILL)
            w.process.wait()


def _metrics_url(server):
    match = _METRICS_LINE.search(server.log)
    return match.group(1) if match else None


def _read_status(url):
    with urllib.request.urlopen(url + "/status.json", timeout=5) as reply:
        return json.load(reply)


def _ps_summary(url):
    """(updates, tau mean, tau max) from the local cluster's /status.json, once
    the shards have published their last counters (every 100 ms)."""
    def summary(doc):
        run = doc["run"]  # each commit once, though every shard applies it
        tau = run["staleness"] or {"sum": 0, "count": 0}
        return (run["updates"], tau["sum"] / tau["count"] if tau["count"] else 0.0,
                max((s["staleness_max"] for s in doc["shards"]), default=0))

    time.sleep(0.25)
    last = summary(_read_status(url))
    for _ in range(10):  # the same figures twice in a row: every shard has published
        time.sleep(0.25)
        now = summary(_read_status(url))
        if now == last:
            break
        last = now
    return last


def _report(training_time, metrics_url):
    print(f"Training time: {training_time:.2f}")
    if metrics_url is None:
        print("(parameter server updates and staleness: the launcher reads them from the local cluster it starts; "
              "with --servers, read them with asyncps.Client.stats())")
        sys.stdout.flush()
        return
    try:
        updates, tau_mean, tau_max = _ps_summary(metrics_url)
    except (OSError, ValueError, KeyError) as e:
        print(f"(parameter server updates and staleness unknown: cannot read {metrics_url}/status.json: {e})")
        sys.stdout.flush()
        return
    print(f"Number of parameter server updates: {updates}")
    print(f"staleness tau: mean {tau_mean:.2f}, max {tau_max}")
    sys.stdout.flush()


def _worker_env(args, servers, worker_id):
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env[ENV_SERVERS] = ",".join(servers)
    env[ENV_WORKER_ID] = str(worker_id)
    env[ENV_NUM_WORKERS] = str(args.workers)
    env[ENV_ALGORITHM] = args.algorithm
    for name, value in ((ENV_WINDOW, args.window), (ENV_RHO, args.rho), (ENV_ETA, args.eta),
                        (ENV_MOMENTUM, args.momentum)):
        if value is not None:
            env[name] = repr(value)
    if args.overlap:
        env[ENV_OVERLAP] = "1"
    return env


def _supervise(workers, server):
    """Waits for the workers. Returns None when all succeeded, else why the
    run must stop."""
    pending = list(workers)
    while pending:
        for w in list(pending):
            status = w.process.poll()
            if status is None:
                continue
            pending.remove(w)
            if status != 0:
                w.join_readers(2.0)  # its last words
                tail = "\n  ".join(_OUTPUT.tail(w.id)) or "(no output)"
                return f"worker {w.id} {_describe_exit(status)}; its last output:\n  {tail}"
        if server is not None and server.process.poll() is not None:
            tail = " | ".join(server.log.strip().splitlines()[-5:])
            return f"asyncps-server {_describe_exit(server.process.returncode)}: {tail}"
        time.sleep(0.02)
    return None


_OUTPUT = _Output()


def _run(args):
    server = None
    workers = []
    try:
        if args.servers is None:
            from . import server as _server  # imports the extension: only when a cluster is needed
            shards = args.shards or 1
            extra = ["--metrics-bind", "127.0.0.1:0"]
            if args.algorithm == "average":  # its rounds are the staleness bound's barrier
                extra += ["--max-staleness", "0"]
            if (args.shared_memory or "on") == "on":
                extra.append("--shared-memory")
            server = _server.LocalServer(shards=shards, extra_args=extra)
            server.start()
            servers = server.endpoints
            _say(f"started asyncps-server (pid {server.process.pid}), {shards} shard{'s' if shards > 1 else ''}: "
                 + ",".join(servers))
        else:
            servers = args.servers
        start = time.monotonic()
        for i in range(args.workers):
            worker_id = FIRST_WORKER_ID + i
            workers.append(_Worker(worker_id, [sys.executable, args.script] + args.script_args,
                                   _worker_env(args, servers, worker_id), _OUTPUT))
        failure = _supervise(workers, server)
        training_time = time.monotonic() - start
        if failure is not None:
            _stop_workers(workers)
            _say(failure)
            _say("stopped every worker" + (" and the local cluster" if server is not None else ""))
            return 1
        for w in workers:
            w.join_readers(2.0)
        _report(training_time, _metrics_url(server) if server is not None else None)
        return 0
    except KeyboardInterrupt:
        _stop_workers(workers)
        _say("interrupted: stopped every worker" + (" and the local cluster" if server is not None else ""))
        return 130
    except _Terminated:
        _stop_workers(workers)
        _say("terminated: stopped every worker" + (" and the local cluster" if server is not None else ""))
        return 143
    except Exception as e:  # the server did not start, a worker could not be started, ...
        _stop_workers(workers)
        _say(f"{type(e).__name__}: {e}")
        return 1
    finally:
        if server is not None:
            server.stop(timeout=STOP_GRACE_SECONDS)


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv=None):
    """The asyncps-run command: returns the exit status (0, 1 when a worker or
    the cluster failed, 2 for bad arguments, 130 after Ctrl-C)."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
