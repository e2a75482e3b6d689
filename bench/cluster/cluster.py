#!/usr/bin/env python3
"""bench/cluster: the seed experiment on an emulated cluster, the real binaries over real TCP.

NEEDS ROOT (network namespaces, veth, tc, cgroups) and iproute2. Standard library only.

Each emulated host is a network namespace this program creates, named apsc-<pid>-<host>: one
per shard (an asyncps-server serving that shard) and one per worker (an asyncps-worker). Each
host's eth0 is one end of a veth pair whose other end is on a bridge in a switch namespace
(apsc-<pid>-sw); nothing is added to the machine's own namespace. `tc tbf` shapes both
directions of every link to the rate under test (host -> switch on the host's eth0, switch ->
host on the bridge port). The kernel may lack netem (this one does): the delay is then the veth
path's own, measured and reported, not emulated. Every address is in --subnet (default
10.213.0.0/24), refused if it overlaps an address of the machine's interfaces, and `ip route get`
inside the namespace must send it through the harness's eth0 before anything talks to it.

Compute: a 2-core machine has no cores for many hosts. Each worker runs in its own cgroup (v1
cpu controller, cpu.cfs_quota_us) limited to --worker-cpus cores, in the PS runs and in the
no-PS baseline alike, so that both have the same compute per host; the shard servers are not
limited (a shard host's cores are its own). The workers' throttling counters are recorded to
show that the quota, not the machine's load, bound them.

One round runs the baseline (the same workers with --algo single on the same hosts: no PS) and
then, at each --rates rate, ADAG through shards on their own hosts with each --variants wire
(f32, bf16, top1%). Every run has a --run-timeout; the whole program has --max-minutes. On exit,
error or signal it stops every process it started and removes its namespaces and cgroups;
`cluster.py --cleanup` removes what a killed (SIGKILL) run left.

Time to accuracy (--curve-every S): asyncps-report starts with the workers, on its own host
(o0, not CPU-limited), pulls the centre every S seconds while they train and evaluates the
snapshots after training (asyncps-report --curve-every). The summary then gives each run's time
to a target accuracy that every PS run's curve reaches: the highest multiple of 0.005 that
each curve (its final weights included) reaches, and to 0.01 and 0.025 below it; time counted
from the first worker's first batch.

--lock FILE holds flock(FILE) during each round (a machine shared through a build lock).

Outputs in OUTDIR: cluster.json (machine, settings, link checks, every run), cluster.csv,
cluster.md (the summary, also printed) and logs/ (each process's output).
"""
import argparse
import fcntl
import ipaddress
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "suite"))
from subcommands.common import fmt, machine_info, machine_line, median, write_csv  # noqa: E402

PREFIX = "apsc-"
CGROUP_CPU = "/sys/fs/cgroup/cpu"
PORT = 5555
# The workers' cgroups hand out their quota per 10 ms: unused quota does not carry into the next
# period, so a worker that waited on the network can run faster than --worker-cpus for at most
# the rest of one short period (with the kernel's default 100 ms it could catch up for longer,
# which would hide part of the network's cost).
CFS_PERIOD_US = 10000
# name -> the worker's wire flags (as bench/suite's compression variants)
VARIANTS = {
    "f32": [],
    "bf16": ["--pull-encoding", "bf16", "--commit-encoding", "bf16"],
    "top1%": ["--pull-encoding", "bf16", "--commit-encoding", "bf16", "--commit-top-k", "0.01"],
}
# and each with the exchange overlapped with the next window's training (--overlap)
VARIANTS.update({f"{name}+overlap": flags + ["--overlap"] for name, flags in list(VARIANTS.items())})
TARGETS = {10.0: 1.10, 1.0: 1.25}  # issue 35 section 2: PS time / no-PS time at these Gbit/s


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def sh(*cmd, check=True, timeout=30):
    """Runs one command (list), bounded; returns stdout. Raises with its stderr if it fails."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


# ---------------------------------------------------------------- the network

class Cluster:
    """The namespaces, links and cgroups of one run of this program; remove() undoes all."""

    def __init__(self, subnet, hosts, worker_cpus):
        self.tag = f"{PREFIX}{os.getpid()}"
        self.sw = f"{self.tag}-sw"
        self.hosts = hosts  # host name -> address
        self.namespaces = []
        self.cgroups = []
        self.procs = []
        self.worker_cpus = worker_cpus
        self.subnet = subnet

    def ns(self, host):
        return f"{self.tag}-{host}"

    def create(self):
        sh("ip", "netns", "add", self.sw)
        self.namespaces.append(self.sw)
        sh("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.sw, "link", "set", "br0", "up")
        for host, addr in self.hosts.items():
            ns = self.ns(host)
            sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            # Both ends are created inside the harness's namespaces: the machine's own has none.
            sh("ip", "-n", self.sw, "link", "add", f"p-{host}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", self.sw, "link", "set", f"p-{host}", "master", "br0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{addr}/{self.subnet.prefixlen}", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            if host.startswith("w") and self.worker_cpus:
                path = os.path.join(CGROUP_CPU, self.tag, host)
                os.makedirs(path)
                if os.path.join(CGROUP_CPU, self.tag) not in self.cgroups:
                    self.cgroups.insert(0, os.path.join(CGROUP_CPU, self.tag))
                self.cgroups.insert(0, path)
                with open(os.path.join(path, "cpu.cfs_period_us"), "w") as f:
                    f.write(str(CFS_PERIOD_US))
                with open(os.path.join(path, "cpu.cfs_quota_us"), "w") as f:
                    f.write(str(int(self.worker_cpus * CFS_PERIOD_US)))

    def shape(self, gbit):
        """tbf at `gbit` on both directions of every link. The bucket holds 1 ms of traffic
        (at least 128 KiB: a veth's GSO segments are 64 KiB) and the queue 5 ms."""
        burst = max(128 * 1024, int(gbit * 1e9 / 8 * 1e-3))
        for host in self.hosts:
            for ns, dev in ((self.ns(host), "eth0"), (self.sw, f"p-{host}")):
                sh("tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{gbit}gbit",
                   "burst", str(burst), "latency", "5ms")

    def check_route(self, host, addr):
        """REQUIRES: `addr` reached from `host` through the harness's eth0, no gateway."""
        out = sh("ip", "netns", "exec", self.ns(host), "ip", "-j", "route", "get", addr)
        route = json.loads(out)[0]
        if route.get("dev") != "eth0" or route.get("gateway"):
            raise RuntimeError(f"route from {host} to {addr} is {route}, not the harness's eth0: refusing")

    def cpu_stat(self, host):
        """The cgroup's cpu.stat (nr_periods, nr_throttled, throttled_time ns) or {}."""
        path = os.path.join(CGROUP_CPU, self.tag, host, "cpu.stat")
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            return {k: int(v) for k, v in (line.split() for line in f)}

    def start(self, host, cmd, log_path):
        """Starts `cmd` in `host`'s namespace (and its cgroup, for workers); returns the Popen."""
        cgroup = os.path.join(CGROUP_CPU, self.tag, host, "cgroup.procs")
        join = os.path.exists(cgroup)

        def enter():
            if join:
                with open(cgroup, "w") as f:
                    f.write(str(os.getpid()))

        log = open(log_path, "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(host)] + cmd, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, preexec_fn=enter)
        log.close()
        p.log_path, p.cpu_s = log_path, None
        self.procs.append(p)
        return p

    def stop(self, p, grace=5):
        """Stops p (SIGTERM, SIGKILL after `grace` s); returns its CPU seconds."""
        if p.returncode is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                wait_cpu(p, grace)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                wait_cpu(p, 30)
        if p in self.procs:
            self.procs.remove(p)
        return p.cpu_s

    def remove(self):
        for p in list(self.procs):
            self.stop(p)
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        for path in self.cgroups:
            for _ in range(50):  # a cgroup is removable once its last task has gone
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def wait_cpu(p, timeout):
    """Waits up to `timeout` s for p to exit; returns its CPU seconds, user + system, from
    wait4 (`ip netns exec` execs the command: the rusage is the command's). Raises
    subprocess.TimeoutExpired."""
    end = time.time() + timeout
    while p.returncode is None:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            p.cpu_s = usage.ru_utime + usage.ru_stime
        elif time.time() > end:
            raise subprocess.TimeoutExpired(p.args, timeout)
        else:
            time.sleep(0.02)
    return p.cpu_s


def cleanup_leftovers():
    """Removes the namespaces and cgroups of runs of this program that no longer exist."""
    names = [line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line.startswith(PREFIX)]
    for name in names:
        pid = name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
            print(f"keeping {name}: its run (pid {pid}) is alive", file=sys.stderr)
            continue
        for p in sh("ip", "netns", "pids", name, check=False).split():
            os.kill(int(p), signal.SIGKILL)
        sh("ip", "netns", "del", name, check=False)
        print(f"removed namespace {name}", file=sys.stderr)
    for d in os.listdir(CGROUP_CPU) if os.path.isdir(CGROUP_CPU) else []:
        pid = d[len(PREFIX):]
        if d.startswith(PREFIX) and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            for sub in os.listdir(os.path.join(CGROUP_CPU, d)):
                if os.path.isdir(os.path.join(CGROUP_CPU, d, sub)):
                    os.rmdir(os.path.join(CGROUP_CPU, d, sub))
            os.rmdir(os.path.join(CGROUP_CPU, d))
            print(f"removed cgroup {d}", file=sys.stderr)


def check_subnet(subnet):
    """Refuses a subnet that overlaps an address of the machine's own interfaces."""
    for link in json.loads(sh("ip", "-j", "addr")):
        for a in link.get("addr_info", []):
            if a.get("family") != "inet":
                continue
            net = ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False)
            if net.overlaps(subnet):
                raise SystemExit(f"--subnet {subnet} overlaps {net} on {link['ifname']}: pick another")


# ---------------------------------------------------------------- link checks

def probe_netem(cluster):
    """Whether this kernel has netem, said as the report's note on delay."""
    r = subprocess.run(["tc", "-n", cluster.sw, "qdisc", "add", "dev", "br0", "root", "netem", "delay", "100us"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return f"this kernel has no netem qdisc (tc: {r.stderr.strip()})"
    sh("tc", "-n", cluster.sw, "qdisc", "del", "dev", "br0", "root")
    return "netem exists in this kernel, but this harness adds no delay"


PROBE = r"""
import socket, statistics, sys, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "serve":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(1); s.settimeout(20)
    for _ in range(2):
        c, _ = s.accept(); c.settimeout(20)
        kind = c.recv(1)
        if kind == b"p":
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while (m := c.recv(1)):
                c.sendall(m)
        else:
            while c.recv(1 << 20):
                pass
            c.sendall(b"k")
        c.close()
else:
    nbytes = int(sys.argv[4])
    c = socket.create_connection((addr, port), timeout=20); c.sendall(b"p")
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for _ in range(200):
        t = time.perf_counter(); c.sendall(b"x"); c.recv(1); rtts.append(time.perf_counter() - t)
    c.close()
    c = socket.create_connection((addr, port), timeout=20); c.sendall(b"b")
    buf = bytes(1 << 20); t = time.perf_counter(); left = nbytes
    while left > 0:
        left -= c.send(buf[:min(left, len(buf))])
    c.shutdown(socket.SHUT_WR); c.recv(1); dt = time.perf_counter() - t
    print(f"{statistics.median(rtts) * 1e6:.1f} {nbytes * 8 / dt / 1e9:.3f}")
"""


def link_check(cluster, src, dst, gbit, logdir):
    """Median TCP round-trip time of 1 byte (200 times) and the rate one TCP stream reaches
    (0.5 s of traffic at the shaped rate, at most 256 MiB) from host src to host dst."""
    addr = cluster.hosts[dst]
    cluster.check_route(src, addr)
    server = cluster.start(dst, [sys.executable, "-c", PROBE, "serve", addr, str(PORT + 100)],
                           os.path.join(logdir, f"probe-{gbit}g-serve.log"))
    try:
        nbytes = min(256 << 20, int(gbit * 1e9 / 8 * 0.5))
        for _ in range(50):
            out = subprocess.run(["ip", "netns", "exec", cluster.ns(src), sys.executable, "-c", PROBE, "send", addr,
                                  str(PORT + 100), str(nbytes)], capture_output=True, text=True, timeout=60)
            if out.returncode == 0:
                rtt_us, rate = out.stdout.split()
                return {"from": src, "to": dst, "rate_gbit": gbit, "rtt_us": float(rtt_us),
                        "tcp_gbit": float(rate), "bytes": nbytes}
            time.sleep(0.1)  # the server is not listening yet
        raise RuntimeError(f"link check {src} -> {dst}: {out.stderr.strip()}")
    finally:
        cluster.stop(server)


# ---------------------------------------------------------------- one run

def wait_ready(p, path, deadline):
    while time.time() < deadline:
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().split()
        if p.poll() is not None:
            raise RuntimeError(f"asyncps-server exited ({p.returncode}): see {p.log_path}")
        time.sleep(0.05)
    raise RuntimeError(f"asyncps-server not ready in time: see {p.log_path}")


def run_once(cluster, a, bins, variant, gbit, tag, workdir):
    """One run of the seed experiment: `variant` "single" (no PS) or a VARIANTS wire through
    the shards. Returns a flat record; raises on a failure (the caller records it)."""
    os.makedirs(os.path.join(workdir, "reports"))
    deadline = time.time() + a.run_timeout
    train = ["--window", "5", "--batch-size", str(a.batch), "--epochs", str(a.epochs), "--optimizer", "adam",
             "--lr", "0.001", "--seed", str(a.seed), "--train-limit", str(a.train_limit), "--test-limit",
             str(a.test_limit)]
    servers, endpoints, workers, report = [], [], [], None
    stats0 = {f"w{i}": cluster.cpu_stat(f"w{i}") for i in range(a.workers)}
    try:
        if variant != "single":
            for s in range(a.shards):
                addr = cluster.hosts[f"s{s}"]
                ready = os.path.join(workdir, f"ready-{s}")
                servers.append(cluster.start(f"s{s}", [
                    bins["server"], "--bind", f"tcp://{addr}:{PORT}", "--shards", "1", "--first-shard", str(s),
                    "--num-shards", str(a.shards), "--ready-file", ready, "--worker-timeout", "60"],
                    os.path.join(workdir, f"server-{s}.log")))
            for s, p in enumerate(servers):
                endpoints += wait_ready(p, os.path.join(workdir, f"ready-{s}"), deadline)
            for host in [f"w{i}" for i in range(a.workers)] + ["o0"]:
                for e in endpoints:
                    cluster.check_route(host, re.match(r"tcp://([\d.]+):", e).group(1))
        if variant != "single":
            report_json = os.path.join(workdir, "report.json")
            # It waits for the workers' reports (taking the curve's snapshots meanwhile).
            wait = ["--wait", str(a.run_timeout)] + (["--curve-every", str(a.curve_every)] if a.curve_every else [])
            report = cluster.start("o0", [bins["report"], "--algo", "adag"] + train + wait + [
                "--servers", ",".join(endpoints), "--worker-reports", os.path.join(workdir, "reports"),
                "--expect-workers", str(a.workers), "--report-json", report_json], os.path.join(workdir, "report.log"))
        for i in range(a.workers):
            cmd = [bins["worker"], "--algo", "single" if variant == "single" else "adag"] + train + [
                "--worker-index", str(i), "--num-workers", str(a.workers),
                "--report-json", os.path.join(workdir, "reports", f"worker-{i}.json")]
            if variant != "single":
                cmd += ["--servers", ",".join(endpoints)] + VARIANTS[variant]
            workers.append(cluster.start(f"w{i}", cmd, os.path.join(workdir, f"worker-{i}.log")))
        for i, p in enumerate(workers):
            try:
                wait_cpu(p, max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"--run-timeout {a.run_timeout} s reached: see {p.log_path}")
            if p.returncode != 0:
                raise RuntimeError(f"worker {i} exited {p.returncode}: see {p.log_path}")
            cluster.procs.remove(p)
        reports = [json.load(open(os.path.join(workdir, "reports", f"worker-{i}.json"))) for i in range(a.workers)]
        rec = {"variant": variant, "rate_gbit": gbit, "round": tag,
               "training_time": max(r["end_unix"] for r in reports) - min(r["first_batch_unix"] for r in reports),
               "worker_train_seconds": [r["train_seconds"] for r in reports],
               "worker_samples_per_second": [r["samples_per_second"] for r in reports],
               "worker_cpu_seconds": [p.cpu_s for p in workers],
               "commits": sum(r["commits"] for r in reports), "samples": sum(r["samples"] for r in reports),
               "batches": sum(r["batches"] for r in reports)}
        throttled = []
        for i in range(a.workers):
            s0, s1 = stats0[f"w{i}"], cluster.cpu_stat(f"w{i}")
            if s1:
                throttled.append({k: s1[k] - s0.get(k, 0) for k in ("nr_periods", "nr_throttled", "throttled_time")})
        rec["worker_cpu_throttling"] = throttled
        if variant != "single":
            try:
                wait_cpu(report, max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"--run-timeout {a.run_timeout} s reached in asyncps-report")
            if report.returncode != 0:
                raise RuntimeError(f"asyncps-report exited {report.returncode}: see {report.log_path}")
            cluster.procs.remove(report)
            rec["server_cpu_seconds"] = [cluster.stop(p) for p in servers]
            rep = json.load(open(report_json))
            rec.update(accuracy=rep["accuracy"], updates=rep["number_of_parameter_server_updates"],
                       expected_updates=rep["expected_updates"], staleness_mean=rep["staleness_mean"],
                       staleness_max=rep["staleness_max"], ps_training_time=rep["training_time"],
                       curve=rep["curve"])
            if rec["updates"] != rec["expected_updates"]:
                raise RuntimeError(f"the shards applied {rec['updates']} updates, the workers' schedules say "
                                   f"{rec['expected_updates']}: see {report.log_path}")
        return rec
    finally:
        for p in workers + servers + ([report] if report else []):  # what a failed run left
            cluster.stop(p)


# ---------------------------------------------------------------- the summary

def summarize(m, settings, links, runs, failures, elapsed):
    single = {r["round"]: r for r in runs if r["variant"] == "single"}

    def mean(xs):
        return sum(xs) / len(xs)

    def per_exchange(r, key):
        """(r's figure - its round's baseline's), per worker, per exchange, in ms."""
        b = single.get(r["round"])
        if b is None:
            return None
        exchanges = r["commits"] / settings["workers"]
        if key == "time":
            return (r["training_time"] - b["training_time"]) / exchanges * 1e3
        return (mean(r["worker_cpu_seconds"]) - mean(b["worker_cpu_seconds"])) / exchanges * 1e3

    rows = []
    for gbit in settings["rates"]:
        for v in settings["variants"]:
            rs = [r for r in runs if r["variant"] == v and r["rate_gbit"] == gbit]
            ratios = [r["training_time"] / single[r["round"]]["training_time"] for r in rs if r["round"] in single]
            rows.append({"rate_gbit": gbit, "variant": v, "runs": len(rs),
                         "training_time": median([r["training_time"] for r in rs]),
                         "training_times": [round(r["training_time"], 2) for r in rs],
                         "vs_single": median(ratios), "target": TARGETS.get(gbit),
                         "staleness_mean": median([r["staleness_mean"] for r in rs]),
                         "accuracy": median([r["accuracy"] for r in rs]),
                         "updates": median([r["updates"] for r in rs]),
                         "wall_ms_per_exchange": median([per_exchange(r, "time") for r in rs]),
                         "worker_cpu_ms_per_exchange": median([per_exchange(r, "cpu") for r in rs]),
                         "shard_cpu_s": median([sum(r["server_cpu_seconds"]) for r in rs])})
    s_runs = [r["training_time"] for r in runs if r["variant"] == "single"]
    s_cpu = [mean(r["worker_cpu_seconds"]) for r in runs if r["variant"] == "single"]
    step = [r["training_time"] * settings["worker_cpus"] / (r["batches"] / settings["workers"])
            for r in runs if r["variant"] == "single"]
    md = ["## The seed experiment on an emulated cluster (bench/cluster)", "", machine_line(m), "",
          f"settings: ADAG, W={settings['workers']} worker hosts, {settings['shards']} shard hosts (one "
          f"asyncps-server each), batch {settings['batch']}, window 5, {settings['epochs']} epoch(s) over "
          f"{settings['train_limit'] or 60000:,} Fashion-MNIST rows, Adam lr 0.001, test on "
          f"{settings['test_limit'] or 10000:,} rows; each worker limited to {settings['worker_cpus']} core(s) "
          f"(cgroup), in the baseline too; {settings['rounds']} round(s), each: the baseline, then every "
          f"rate x wire; vs no PS = median over rounds of (time / the baseline's time in the same round); "
          f"elapsed {elapsed / 60:.1f} min", "",
          f"baseline, the same workers with --algo single on the same hosts (no PS): "
          f"{fmt(median(s_runs), '.2f')} s (each: {', '.join(fmt(x, '.2f') for x in s_runs)}); "
          f"compute per batch {fmt(median(step) * 1e3 if step else None, '.1f')} core-ms (quota x time), "
          f"each worker's CPU {fmt(median(s_cpu), '.2f')} s (wait4)", "",
          "Per exchange: what the PS run adds to the baseline of its round, per worker and per exchange "
          "(commit and pull), in wall time and in the workers' CPU time (user + system).", "",
          "| link | wire | training time s (median; each) | vs no PS | target | tau mean | accuracy | PS updates "
          "| per exchange: wall ms, worker CPU ms | shards' CPU s |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['rate_gbit']:g} Gbit/s | {r['variant']} | {fmt(r['training_time'], '.2f')} "
                  f"({', '.join(fmt(x, '.2f') for x in r['training_times'])}) | {fmt(r['vs_single'], '.3f')}x | "
                  f"{'≤ %.2fx' % r['target'] if r['target'] else '-'} | {fmt(r['staleness_mean'], '.2f')} | "
                  f"{fmt(r['accuracy'], '.4f')} | {fmt(r['updates'], '.0f')} | "
                  f"{fmt(r['wall_ms_per_exchange'], '.1f')}, {fmt(r['worker_cpu_ms_per_exchange'], '.1f')} | "
                  f"{fmt(r['shard_cpu_s'], '.2f')} |")
    md += ["", "Links (one TCP stream, worker host w0 -> shard host s0, shaped both ways with tbf; no delay "
           "emulated: " + settings["delay_note"] + "):", "",
           "| shaped | TCP reached Gbit/s | round trip of 1 byte, µs |", "|---:|---:|---:|"]
    for lk in links:
        md.append(f"| {lk['rate_gbit']:g} Gbit/s | {lk['tcp_gbit']:.2f} | {lk['rtt_us']:.0f} |")
    md += ["", "Load average (1, 5, 15 min) before each run: " +
           "; ".join(f"{r['variant']}{'' if r['rate_gbit'] is None else ' @%g' % r['rate_gbit']} r{r['round'] + 1}: "
                     f"{r['load_before']}" for r in runs)]
    md += time_to_accuracy(settings, runs, rows)
    if failures:
        md += ["", "FAILED runs: " + "; ".join(failures)]
    return rows, "\n".join(md) + "\n"


TARGET_STEP = 0.005  # the target accuracy is a multiple of this
BELOW_TARGET = (0.01, 0.025)  # also reported: the times to these lower accuracies (earlier in training)


def time_to_accuracy(settings, runs, rows):
    """With curves: sets each row's times to the targets (see the module's doc) and returns
    the summary's lines for them; else []."""
    curved = [r for r in runs if r.get("curve")]
    if not curved:
        return []
    top = math.floor(min(max(acc for _, acc in r["curve"]) for r in curved) / TARGET_STEP + 1e-9) * TARGET_STEP
    targets = [round(top - d, 4) for d in (0,) + BELOW_TARGET]
    for r in curved:  # the first point at or above each target (the final weights' point is last: min)
        r["time_to_targets"] = [min(t for t, acc in r["curve"] if acc >= x - 1e-9) for x in targets]
    plain = {(r["round"], r["rate_gbit"], r["variant"]): r for r in curved}
    md = ["", f"Time to accuracy, from the first worker's first batch: to {targets[0]:.3f} (the highest multiple "
          f"of {TARGET_STEP} that every PS run's curve reaches) and to {', '.join(f'{x:.3f}' for x in targets[1:])} "
          f"(earlier in training); snapshots of the centre every {settings['curve_every']} s, test rows as above. "
          "vs no overlap: the median of each round's ratio to the same wire without --overlap.", "",
          "| link | wire | snapshots per run | "
          + " | ".join(f"to {x:.3f}: s (median; each) | vs no overlap" for x in targets) + " |",
          "|---|---|---:|" + "---|---:|" * len(targets)]
    for row in rows:
        rs = [r for r in curved if r["variant"] == row["variant"] and r["rate_gbit"] == row["rate_gbit"]]
        if not rs:
            continue
        row["targets"], row["time_to_targets"], row["time_to_targets_vs_plain"] = targets, [], []
        cells = []
        for i in range(len(targets)):
            t = median([r["time_to_targets"][i] for r in rs])
            ratios = [r["time_to_targets"][i] / plain[k]["time_to_targets"][i] for r in rs
                      if r["variant"].endswith("+overlap")
                      and (k := (r["round"], r["rate_gbit"], r["variant"].replace("+overlap", ""))) in plain]
            vs = median(ratios) if ratios else None
            row["time_to_targets"].append(t)
            row["time_to_targets_vs_plain"].append(vs)
            cells.append(f"{fmt(t, '.2f')} ({', '.join(fmt(r['time_to_targets'][i], '.2f') for r in rs)}) | "
                         f"{fmt(vs, '.3f') + 'x' if vs else '-'}")
        md.append(f"| {row['rate_gbit']:g} Gbit/s | {row['variant']} | {median([len(r['curve']) - 1 for r in rs]):.0f}"
                  f" | {' | '.join(cells)} |")
    return md


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--cleanup", action="store_true", help="remove what killed runs left, and exit")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run under a minute: 10 Gbit/s, single and f32, 1 round, 1,200 rows")
    ap.add_argument("--rates", default="1,10,25", help="link rates in Gbit/s, comma-separated")
    ap.add_argument("--variants", default="f32,bf16,top1%", help="wires: " + ", ".join(VARIANTS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--worker-cpus", type=float, default=0.5, help="cores per worker host (cgroup quota)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=24000, help="training rows (0: all 60,000)")
    ap.add_argument("--test-limit", type=int, default=2000, help="test rows (0: all 10,000)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--subnet", default="10.213.0.0/24")
    ap.add_argument("--run-timeout", type=int, default=300, help="seconds per run")
    ap.add_argument("--curve-every", type=float, default=0,
                    help="seconds between the centre's snapshots for time to accuracy (0: no curve)")
    ap.add_argument("--lock", help="hold flock() on this file during each round")
    ap.add_argument("--max-minutes", type=float, default=40, help="no run starts after this")
    ap.add_argument("--build", default=os.environ.get("BUILD_DIR", os.path.join(ROOT, "build")))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("cluster.py needs root (network namespaces, tc, cgroups)")
    for tool in ("ip", "tc"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install iproute2")
    if a.cleanup:
        cleanup_leftovers()
        return
    if not a.outdir:
        ap.error("OUTDIR is required")
    if a.quick:
        a.rates, a.variants, a.rounds, a.train_limit, a.test_limit = "10", "f32", 1, 1200, 500
    try:
        rates = [float(x) for x in a.rates.split(",")]
    except ValueError:
        ap.error(f"--rates {a.rates}: expected numbers in Gbit/s, e.g. 1,10,25")
    if not rates or any(not 0.001 <= r <= 100 for r in rates):
        ap.error(f"--rates {a.rates}: each must be in 0.001..100 Gbit/s")
    variants = a.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"--variants: unknown wire {v!r} (known: {', '.join(VARIANTS)})")
    for name in ("rounds", "workers", "shards", "epochs", "batch", "run_timeout"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if not 0 <= a.curve_every <= 60:
        ap.error(f"--curve-every {a.curve_every}: must be in 0..60 s")
    if a.lock and not os.path.isdir(os.path.dirname(os.path.abspath(a.lock))):
        ap.error(f"--lock {a.lock}: its folder does not exist")
    if not 0.01 <= a.worker_cpus <= os.cpu_count():
        ap.error(f"--worker-cpus {a.worker_cpus}: must be in 0.01..{os.cpu_count()}")
    if a.workers + a.shards > 200:
        ap.error("at most 200 hosts")
    try:
        subnet = ipaddress.ip_network(a.subnet)
    except ValueError as e:
        ap.error(f"--subnet {a.subnet}: {e}")
    if subnet.version != 4 or not subnet.is_private or subnet.num_addresses < a.workers + a.shards + 12:
        ap.error(f"--subnet {a.subnet}: must be a private IPv4 range with room for every host")
    if not os.path.isdir(CGROUP_CPU) or not os.path.exists(os.path.join(CGROUP_CPU, "cpu.cfs_quota_us")):
        sys.exit(f"no cgroup v1 cpu controller at {CGROUP_CPU}: cannot limit the workers' CPU")
    bins = {k: os.path.join(a.build, "bin", f"asyncps-{k}") for k in ("server", "worker", "report")}
    for path in bins.values():
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} not found: cmake --build {a.build} --target asyncps-server asyncps-worker asyncps-report")
    check_subnet(subnet)

    m = machine_info()
    os.makedirs(a.outdir, exist_ok=True)
    logdir = os.path.join(a.outdir, "logs")
    os.makedirs(logdir, exist_ok=True)
    base = list(subnet.hosts())
    hosts = {f"s{s}": str(base[10 + s]) for s in range(a.shards)}
    hosts.update({f"w{i}": str(base[10 + a.shards + i]) for i in range(a.workers)})
    hosts["o0"] = str(base[10 + a.shards + a.workers])  # asyncps-report (and its curve's pulls)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    cluster = Cluster(subnet, hosts, a.worker_cpus)
    runs, failures, links = [], [], []
    t0 = time.time()
    delay_note = "not probed (the run stopped before)"
    try:
        cluster.create()
        delay_note = probe_netem(cluster)
        for gbit in rates:
            cluster.shape(gbit)
            links.append(link_check(cluster, "w0", "s0", gbit, logdir))
            print(f"[cluster] link at {gbit:g} Gbit/s: {links[-1]}", file=sys.stderr, flush=True)
        plan = [(rnd, v, g) for rnd in range(a.rounds) for v, g in [("single", None)] + [(v, g) for g in rates
                                                                                         for v in variants]]
        lock = open(a.lock, "a") if a.lock else None
        held = None
        for rnd, variant, gbit in plan:
            if lock and held != rnd:  # one round at a time under the lock
                fcntl.flock(lock, fcntl.LOCK_UN)
                fcntl.flock(lock, fcntl.LOCK_EX)
                held = rnd
            if time.time() - t0 > a.max_minutes * 60:
                failures.append(f"--max-minutes {a.max_minutes} reached: stopped in round {rnd + 1}")
                break
            if gbit is not None:
                cluster.shape(gbit)
            name = f"r{rnd + 1}-{variant.replace('%', '')}" + (f"-{gbit:g}g" if gbit else "")
            print(f"[cluster] round {rnd + 1}/{a.rounds}: {variant}" +
                  (f" at {gbit:g} Gbit/s" if gbit else " (no PS)"), file=sys.stderr, flush=True)
            load = " ".join(open("/proc/loadavg").read().split()[:3])
            try:
                rec = run_once(cluster, a, bins, variant, gbit, rnd, os.path.join(logdir, name))
            except RuntimeError as e:
                failures.append(f"{name}: {e}")
                print(f"[cluster] FAILED {name}: {e}", file=sys.stderr, flush=True)
                continue
            rec["load_before"] = load
            runs.append(rec)
    except Interrupted as e:
        failures.append(f"interrupted ({e}): stopped")
        print(f"[cluster] interrupted ({e}): cleaning up", file=sys.stderr)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the cleanup runs to its end
        cluster.remove()
    elapsed = time.time() - t0
    settings = {"rates": rates, "variants": variants, "rounds": a.rounds, "workers": a.workers, "shards": a.shards,
                "worker_cpus": a.worker_cpus, "epochs": a.epochs, "train_limit": a.train_limit,
                "test_limit": a.test_limit, "batch": a.batch, "window": 5, "seed": a.seed, "subnet": a.subnet,
                "hosts": hosts, "delay_note": delay_note, "curve_every": a.curve_every, "build": a.build,
                "command": " ".join(sys.argv)}
    rows, md = summarize(m, settings, links, runs, failures, elapsed)
    with open(os.path.join(a.outdir, "cluster.json"), "w") as f:
        json.dump({"machine": m, "settings": settings, "links": links, "table": rows, "runs": runs,
                   "failures": failures, "elapsed_s": round(elapsed, 1)}, f, indent=1)
    write_csv(os.path.join(a.outdir, "cluster.csv"),
              [dict(r, training_times=";".join(str(x) for x in r["training_times"]), commit=m["git_commit"])
               for r in rows],
              ["rate_gbit", "variant", "runs", "training_time", "training_times", "vs_single", "target",
               "staleness_mean", "accuracy", "updates", "wall_ms_per_exchange", "worker_cpu_ms_per_exchange",
               "shard_cpu_s", "commit"])
    with open(os.path.join(a.outdir, "cluster.md"), "w") as f:
        f.write(md)
    print(md)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
