"""A process forked from one with a live asyncps.Client: the child's copy of
the client touches nothing of the parent's (sockets, shared-memory segments,
the server it started), refuses requests saying the child needs its own
client, and lets the child exit at once; the parent's client works on."""
import gc
import glob
import os
import time

import numpy as np
import pytest

import asyncps
import asyncps.server

LAYOUT = [("w", (300,)), ("b", (7,))]
N = 307
CHILD_EXIT_SECONDS = 5.0  # the child has nothing to wait for: it exits in milliseconds


def run_child(body):
    """Forks; the child runs body() and exits with 0 if it returned, else 1
    (os._exit: the child never returns into pytest). Returns (exit code,
    seconds until the child was gone); a child still there after
    CHILD_EXIT_SECONDS is killed and counts as a hang (None)."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            body()
            code = 0
        except BaseException as e:  # noqa: B902 (anything, reported to the parent through the exit code)
            print(f"child failed: {e!r}", flush=True)
        finally:
            os._exit(code)
    while time.monotonic() - start < CHILD_EXIT_SECONDS:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - start
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None, time.monotonic() - start


def my_segments():
    return glob.glob(f"/dev/shm/asyncps-{os.getpid()}-*")


@pytest.mark.parametrize("shared_memory", [False, True])
def test_a_forked_child_exits_at_once_and_the_parents_client_works_on(shared_memory):
    server = asyncps.server.LocalServer(shards=2, extra_args=["--shared-memory"] if shared_memory else [])
    server.start()
    try:
        # The only reference to the client, so that a child can drop it.
        box = {"client": asyncps.Client(server.endpoints, LAYOUT, worker_id=1, shared_memory=shared_memory)}
        assert box["client"].shared_memory_shards == (2 if shared_memory else 0)
        assert box["client"].init(np.zeros(N, dtype=np.float32))
        segments = my_segments()
        assert len(segments) == (2 if shared_memory else 0)

        def use_then_close():
            with pytest.raises(asyncps.InvalidArgument, match="needs its own asyncps.Client"):
                box["client"].pull(np.zeros(N, dtype=np.float32))
            assert server.stop() is None  # the parent's server: left alone
            box["client"].close()  # what a with-block's exit does

        def drop():
            box.clear()  # the client's destructor runs here, as at the child's exit
            gc.collect()

        for body in (use_then_close, drop):
            code, seconds = run_child(body)
            assert code == 0, f"{body.__name__}: the child hung or failed ({seconds:.1f} s)"
        assert sorted(my_segments()) == sorted(segments)  # no child unlinked them
        w = np.zeros(N, dtype=np.float32)
        box["client"].commit_and_pull(np.ones(N, dtype=np.float32), w)
        np.testing.assert_array_equal(w, np.ones(N, dtype=np.float32))
        assert box["client"].stats()[0]["updates"] == 1
        box["client"].close()
    finally:
        server.stop()
