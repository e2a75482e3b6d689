"""asyncps.run, the launcher: N copies of a script with the ASYNCPS_* environment
against a local cluster, their output prefixed, the report, fail fast, Ctrl-C,
usage errors. The scripts are tiny clients, not training."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import binary

COMMITS = 4

CLIENT_SCRIPT = f"""
import os, sys
import numpy as np
import asyncps

client = asyncps.Client(os.environ["ASYNCPS_SERVERS"].split(","), [("dense/kernel", (4, 3)), ("dense/bias", (3,))],
                        worker_id=int(os.environ["ASYNCPS_WORKER_ID"]), algorithm=os.environ["ASYNCPS_ALGORITHM"])
client.init(np.zeros(client.layout.total_size, np.float32))
for _ in range({COMMITS}):
    client.commit(np.ones(client.layout.total_size, np.float32))
client.leave()
print("id", os.environ["ASYNCPS_WORKER_ID"], "of", os.environ["ASYNCPS_NUM_WORKERS"],
      "window", os.environ.get("ASYNCPS_WINDOW"), "rho", os.environ.get("ASYNCPS_RHO"),
      "overlap", os.environ.get("ASYNCPS_OVERLAP"), "args", sys.argv[1:])
print("to stderr", file=sys.stderr)
"""

# Worker 1 fails once the others have written their pids; the others sleep.
FAILING_SCRIPT = """
import os, sys, time
me = os.environ["ASYNCPS_WORKER_ID"]
folder = sys.argv[1]
with open(os.path.join(folder, "pid-" + me), "w") as f:
    f.write(str(os.getpid()))
if me == "1":
    deadline = time.monotonic() + 20
    while len([n for n in os.listdir(folder) if n.startswith("pid-")]) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    print("giving up", flush=True)
    print("the last words", file=sys.stderr)
    sys.exit(3)
print("sleeping", flush=True)
time.sleep(60)
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def env():
    e = dict(os.environ)
    e["ASYNCPS_SERVER_BIN"] = binary("server")
    e.pop("ASYNCPS_WINDOW", None)
    e.pop("ASYNCPS_RHO", None)
    e.pop("ASYNCPS_OVERLAP", None)
    return e


def launcher(*args):
    return [sys.executable, "-m", "asyncps.run"] + list(args)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone too
    except OSError:
        return False


def server_pid(stderr):
    m = re.search(r"started asyncps-server \(pid (\d+)\)", stderr)
    assert m, stderr
    return int(m.group(1))


def wait_gone(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_three_workers_get_the_environment_and_the_report_counts_their_commits(tmp_path):
    script = write(tmp_path, "worker.py", CLIENT_SCRIPT)
    r = subprocess.run(launcher("--workers", "3", "--shards", "2", "--window", "5", "--overlap", script, "--flag", "x"),
                       env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    ids = set()
    for line in r.stdout.splitlines():
        m = re.fullmatch(r"\[worker (\d)\] id (\d) of 3 window 5 rho None overlap 1 args \['--flag', 'x'\]", line)
        if m:
            assert m.group(1) == m.group(2)
            ids.add(int(m.group(2)))
    assert ids == {0, 1, 2}, r.stdout
    assert sorted(re.findall(r"^\[worker (\d)\] to stderr$", r.stderr, re.M)) == ["0", "1", "2"], r.stderr
    assert re.search(r"^Training time: \d+\.\d\d$", r.stdout, re.M), r.stdout
    assert f"Number of parameter server updates: {3 * COMMITS}\n" in r.stdout, r.stdout
    assert re.search(r"^staleness tau: mean \d+\.\d\d, max \d+$", r.stdout, re.M), r.stdout
    assert wait_gone([server_pid(r.stderr)]) == []


def test_a_failing_worker_stops_the_others_and_the_cluster_at_once(tmp_path):
    script = write(tmp_path, "worker.py", FAILING_SCRIPT)
    pids = tmp_path / "pids"
    pids.mkdir()
    start = time.monotonic()
    r = subprocess.run(launcher("--workers", "3", script, str(pids)), env=env(), capture_output=True, text=True,
                       timeout=60)
    elapsed = time.monotonic() - start
    assert r.returncode == 1, r.stdout + r.stderr
    assert elapsed < 20, f"{elapsed:.1f} s: the sleeping workers were not stopped"
    assert "worker 1 exited with status 3" in r.stderr, r.stderr
    assert "the last words" in r.stderr.split("worker 1 exited with status 3", 1)[1], r.stderr
    assert "[worker 1] giving up" in r.stdout and "[worker 0] sleeping" in r.stdout, r.stdout
    assert "Training time" not in r.stdout
    workers = [int((pids / f"pid-{i}").read_text()) for i in range(3)]
    assert wait_gone(workers + [server_pid(r.stderr)]) == []


def test_ctrl_c_stops_everything_and_exits_130(tmp_path):
    script = write(tmp_path, "worker.py", """
        import os, sys, time
        open(os.path.join(sys.argv[1], "pid-" + os.environ["ASYNCPS_WORKER_ID"]), "w").write(str(os.getpid()))
        time.sleep(60)
    """)
    pids = tmp_path / "pids"
    pids.mkdir()
    p = subprocess.Popen(launcher("--workers", "2", script, str(pids)), env=env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(os.listdir(pids)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(os.listdir(pids)) == 2
        time.sleep(0.1)  # the pid files are complete
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, out + err
    assert "interrupted" in err
    workers = [int((pids / f"pid-{i}").read_text()) for i in range(2)]
    assert wait_gone(workers + [server_pid(err)]) == []


@pytest.mark.parametrize("args, message", [
    (["--workers", "2"], "no script given"),
    (["--workers", "0", "SCRIPT"], "--workers.*expected an integer >= 1, not 0"),
    (["SCRIPT"], "the following arguments are required: --workers"),
    (["--workers", "2", "--shards", "2", "--servers", "tcp://127.0.0.1:1", "SCRIPT"], "not allowed with"),
    (["--workers", "2", "--algorithm", "sgd", "SCRIPT"], "invalid choice: 'sgd'"),
    (["--workers", "2", "no-such-script.py"], "no-such-script.py: no such file"),
])
def test_bad_arguments_are_a_usage_error(tmp_path, args, message):
    script = write(tmp_path, "worker.py", "print('never run')\n")
    args = [script if a == "SCRIPT" else a for a in args]
    r = subprocess.run(launcher(*args), env=env(), capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "usage: asyncps.run" in r.stderr and re.search(message, r.stderr), r.stderr
    assert "never run" not in r.stdout
