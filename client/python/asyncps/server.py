"""asyncps-server as a child process, for tests, examples and benchmarks.

    with asyncps.server.LocalServer(shards=2) as server:   # tcp://127.0.0.1, OS-chosen ports
        client = asyncps.Client(server.endpoints, layout)

The server binds 127.0.0.1 with ports the OS picks (or the ipc:// path given)
and writes its shards' endpoints to a ready file, which LocalServer waits for.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from . import _asyncps

try:
    from . import _paths
except ImportError:  # a copy of the sources without the generated file
    _paths = None


def find_binary(name):
    """The path of asyncps binary `name` ("asyncps-server", "asyncps-worker"):
    $ASYNCPS_SERVER_BIN / $ASYNCPS_WORKER_BIN, else the build tree's (or the
    installed) binary this package was built with, else `name` on PATH.
    Raises asyncps.IOError when none exists."""
    env = "ASYNCPS_" + name.replace("asyncps-", "").upper().replace("-", "_") + "_BIN"
    candidates = [os.environ.get(env)]
    if _paths is not None:
        candidates.append({"asyncps-server": _paths.SERVER_BIN, "asyncps-worker": _paths.WORKER_BIN}.get(name))
    candidates.append(shutil.which(name))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise _asyncps.IOError(f"cannot find {name}: build it (cmake --build BUILD --target {name}), "
                           f"put it on PATH, or set {env}")


class LocalServer:
    """asyncps-server with `shards` shards, started by start() (or `with`),
    stopped by stop(). endpoints: the shards' addresses, in shard order. The
    server belongs to the process that started it: in a forked child, stop()
    (and leaving a `with` block) leaves it running for the parent."""

    def __init__(self, shards=1, bind="tcp://127.0.0.1:*", extra_args=(), binary=None, ready_timeout=15.0):
        self.shards = shards
        self.bind = bind
        self.extra_args = list(extra_args)
        self.binary = binary or find_binary("asyncps-server")
        self.ready_timeout = ready_timeout
        self.endpoints = []
        self.process = None
        self._pid = None  # the process that started the server
        self.cpu_seconds = None  # user + system CPU of the server, once stopped
        self._dir = None

    @property
    def log(self):
        """The server's output so far."""
        if not self._dir:
            return ""
        with open(os.path.join(self._dir, "server.log"), errors="replace") as f:
            return f.read()

    def start(self):
        """Starts the server and waits until every shard is bound. Raises
        asyncps.Unavailable if it exits first (its output in the message) and
        asyncps.Timeout if it is not ready within ready_timeout seconds."""
        self._pid = os.getpid()
        self._dir = tempfile.mkdtemp(prefix="asyncps-server-")
        ready = os.path.join(self._dir, "ready")
        args = [self.binary, "--bind", self.bind, "--shards", str(self.shards), "--ready-file", ready]
        with open(os.path.join(self._dir, "server.log"), "wb") as log:
            self.process = subprocess.Popen(args + self.extra_args, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log.strip().splitlines()[-5:]
                self._cleanup()
                raise _asyncps.Unavailable(f"asyncps-server exited with status {self.process.returncode}: "
                                           + " | ".join(log))
            if os.path.exists(ready):
                with open(ready) as f:
                    endpoints = [line.strip() for line in f if line.strip()]
                if len(endpoints) == self.shards:
                    self.endpoints = endpoints
                    return self
            time.sleep(0.02)
        self.stop()
        raise _asyncps.Timeout(f"asyncps-server did not become ready within {self.ready_timeout} s")

    def stop(self, timeout=10.0):
        """SIGTERM (the shards finish the request in hand, checkpoint if
        configured, and exit), then SIGKILL after `timeout` seconds. Returns
        the exit status (None if it was never started, or in a process forked
        from the one that started it); sets cpu_seconds."""
        if self.process is None or os.getpid() != self._pid:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self._reap() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if self.process.returncode is None:
                self.process.kill()
                while self._reap() is None:
                    time.sleep(0.01)
        status = self.process.returncode
        self._cleanup()
        return status

    def _reap(self):
        # os.wait4 rather than Popen.wait: it also gives the server's CPU time.
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        return self.process.returncode

    def _cleanup(self):
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
