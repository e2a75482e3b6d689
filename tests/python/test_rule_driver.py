"""asyncps.RuleDriver: a user who owns the loop needs nothing else."""
import threading

import numpy as np
import pytest

import asyncps
import asyncps.server

LAYOUT = [("w", (6,))]


def test_adag_around_a_numpy_loop(server):
    c = asyncps.Client(server.endpoints, LAYOUT, algorithm="adag")
    w = np.zeros(6, dtype=np.float32)
    c.init(w)
    d = asyncps.RuleDriver(c, window=2)
    assert d.config["window"] == 2 and d.config["exchange_point"] == "after_batch"
    d.start(w)
    for _ in range(5):           # "training": +1 per batch
        d.before_batch(w)
        w += 1
        d.after_batch(w)
    d.finish(w)
    # Commits after batches 2 and 4 carry (2 / 2), the final one (batch 5) 1 / 2.
    assert (d.batches, d.commits) == (5, 3) == (5, asyncps.expected_commits("adag", 5, 2))
    np.testing.assert_array_equal(w, np.full(6, 2.5, dtype=np.float32))
    c.pull(w)
    np.testing.assert_array_equal(w, np.full(6, 2.5, dtype=np.float32))
    assert c.stats()[0]["updates"] == 3


def test_easgd_elastic_step(server):
    c = asyncps.Client(server.endpoints, LAYOUT, algorithm="easgd")
    w = np.zeros(6, dtype=np.float32)
    c.init(w)
    d = asyncps.RuleDriver(c, window=2, rho=5, eta=0.1)   # alpha 0.5
    d.start(w)
    for _ in range(2):
        d.before_batch(w)
        w += 1
        d.after_batch(w)
    d.before_batch(w)            # it = 3: not due; the final exchange is finish()'s
    d.finish(w)
    # Before batch 2: E = 0.5 (1 - 0) -> W 0.5, C 0.5; batch 2 -> W 1.5;
    # finish: E = 0.5 (1.5 - 0.5) = 0.5 -> W 1.0, C 1.0.
    np.testing.assert_allclose(w, 1.0)
    c.pull(w)
    np.testing.assert_allclose(w, 1.0)
    assert d.commits == 2 == asyncps.expected_commits("easgd", 2, 2)


def test_driver_checks_its_arguments(server):
    c = asyncps.Client(server.endpoints, LAYOUT, algorithm="adag")
    with pytest.raises(asyncps.InvalidArgument, match="window must be >= 1"):
        asyncps.RuleDriver(c, window=0)
    d = asyncps.RuleDriver(c)
    assert d.config == asyncps.rule_config("adag")
    with pytest.raises(ValueError, match="float32"):
        d.start(np.zeros(6))
    c.close()
    with pytest.raises(asyncps.InvalidArgument, match="closed"):
        d.start(np.zeros(6, dtype=np.float32))


def test_rule_defaults_are_dist_keras():
    assert [asyncps.rule_config(a)["window"] for a in asyncps.ALGORITHMS] == [5, 12, 5, 32, 32, 5]
    e = asyncps.rule_config("eamsgd")
    assert (e["rho"], e["momentum"], e["exchange_point"]) == (5.0, pytest.approx(0.9), "before_batch")
    assert asyncps.expected_commits("downpour", 10, 5) == 3  # before batches 5 and 10, plus the final one
    assert asyncps.expected_commits("dynsgd", 10, 5) == 2


def test_average_leaves_every_worker_on_the_mean_of_the_models():
    """Two workers, window 2: worker 0 adds 1 per batch, worker 1 adds 3, so every
    round moves the centre, and both workers, by the mean: 4."""
    with asyncps.server.LocalServer(shards=2, extra_args=["--max-staleness", "0"]) as server:
        results = [None, None]
        joined = threading.Barrier(2)  # both join before either trains (the bound waits only for known workers)

        def work(i, step):
            c = asyncps.Client(server.endpoints, LAYOUT, worker_id=i, algorithm="average")
            w = np.zeros(6, dtype=np.float32)
            c.init(w)
            joined.wait(60)
            d = asyncps.RuleDriver(c, window=2, workers=2)
            d.start(w)
            seen = []
            for b in range(4):
                d.before_batch(w)
                w += step
                d.after_batch(w)
                if b % 2 == 1:
                    seen.append(w.copy())
            d.finish(w)
            c.leave()
            results[i] = (seen, d.commits)

        threads = [threading.Thread(target=work, args=(i, s)) for i, s in ((0, 1.0), (1, 3.0))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for seen, commits in results:
            assert commits == 2
            np.testing.assert_array_equal(seen[0], np.full(6, 4.0, dtype=np.float32))
            np.testing.assert_array_equal(seen[1], np.full(6, 8.0, dtype=np.float32))


def test_average_needs_the_servers_barrier_and_its_worker_count(server):
    with pytest.raises(asyncps.Mismatch, match="--max-staleness 0"):
        asyncps.Client(server.endpoints, LAYOUT, algorithm="average")  # `server` runs without the bound
    with asyncps.server.LocalServer(shards=1, extra_args=["--max-staleness", "0"]) as barrier:
        c = asyncps.Client(barrier.endpoints, LAYOUT, algorithm="average")
        with pytest.raises(asyncps.InvalidArgument, match="average needs workers=N"):
            asyncps.RuleDriver(c)
        assert asyncps.RuleDriver(c, workers=3).config["workers"] == 3
        c.close()
