"""The same-host data plane from Python: shared_memory=True sends payloads
through a shared-memory segment per shard (asyncps-server --shared-memory),
with the same results as over the socket; a server without the flag gets
them over the socket."""
import numpy as np

import asyncps
import asyncps.server

LAYOUT = [("a", (3000,)), ("b", (17,))]
N = 3017


def run(server_args, shared_memory):
    with asyncps.server.LocalServer(shards=2, extra_args=server_args) as server, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=1, shared_memory=shared_memory) as c:
        start = np.arange(N, dtype=np.float32)
        assert c.init(start)
        w = np.zeros(N, dtype=np.float32)
        delta = np.linspace(-1, 1, N, dtype=np.float32)
        for _ in range(5):
            c.commit_and_pull(delta, w)
        assert c.stats()[0]["updates"] == 5
        return c.shared_memory_shards, c.options["shared_memory"], w


def test_shared_memory_gives_what_the_socket_gives():
    shm_shards, asked, through_shm = run(["--shared-memory"], True)
    assert (shm_shards, asked) == (2, True)
    socket_shards, _, through_socket = run([], False)
    assert socket_shards == 0
    np.testing.assert_array_equal(through_shm, through_socket)


def test_a_server_without_shared_memory_gets_frames():
    shm_shards, asked, _ = run([], True)
    assert (shm_shards, asked) == (0, True)
