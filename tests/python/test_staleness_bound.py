"""The shards' staleness bound (asyncps-server --max-staleness) seen from
Python: a held pull waits for the slowest worker, leave() lets the others go,
and the stats report the bound, the gap and the time blocked."""
import threading
import time

import numpy as np

import asyncps
import asyncps.server

LAYOUT = [("w", (4,))]


def test_a_pull_ahead_of_the_bound_waits_for_the_slowest_worker():
    with asyncps.server.LocalServer(shards=2, extra_args=["--max-staleness", "0"]) as server, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=0) as fast, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=1) as slow, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=99, observer=True) as watcher:
        assert fast.init(np.zeros(4, dtype=np.float32))
        got = np.zeros(4, dtype=np.float32)
        done = threading.Event()

        def fast_worker():
            fast.commit_and_pull(np.ones(4, dtype=np.float32), got)
            done.set()

        t = threading.Thread(target=fast_worker)
        t.start()
        time.sleep(0.5)
        # Lock-step: the fast worker's pull waits for the slow worker's commit.
        assert not done.is_set()
        w = np.zeros(4, dtype=np.float32)
        watcher.pull(w)  # an observer is never held
        slow.commit_and_pull(np.full(4, 2, dtype=np.float32), w)
        t.join(timeout=10)
        assert done.is_set()
        np.testing.assert_array_equal(got, np.full(4, 3, dtype=np.float32))
        # Once the slow worker leaves, the fast one runs on alone.
        slow.leave()
        fast.commit_and_pull(np.ones(4, dtype=np.float32), got)
        for s in watcher.stats():
            assert s["max_staleness"] == 0
            assert s["max_clock_gap"] == 0
            assert s["blocked_pulls"] == 1
            assert s["blocked_seconds_per_worker"][0] >= 0.4
            assert s["updates"] == 3 and s["duplicates"] == 0 and s["errors"] == 0
            assert sum(s["staleness_counts"]) == 3


def test_the_bound_is_off_by_default():
    with asyncps.server.LocalServer(shards=1) as server, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=0) as c:
        c.init(np.zeros(4, dtype=np.float32))
        (s,) = c.stats()
        assert s["max_staleness"] is None and s["inverse_staleness_scale"] is False
