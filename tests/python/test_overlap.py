"""overlap=True: asyncps.RuleDriver and DistributedOptimizer exchange in the
background (docs/update-rules.md, "Overlapped exchange"), against a real
asyncps-server."""
import subprocess
import sys
import time

import numpy as np
import pytest

import asyncps
import asyncps.server

torch = pytest.importorskip("torch")
import asyncps.torch  # noqa: E402

LAYOUT = [("w", (4,))]


def _updates(client):
    return client.stats()[0]["updates"]


def _wait_for_updates(client, n):
    deadline = time.monotonic() + 30
    while _updates(client) < n:
        assert time.monotonic() < deadline, f"the shard did not reach {n} updates"
        time.sleep(0.01)


def test_the_pull_is_used_one_exchange_later_and_the_counts_stay_exact(server):
    """ADAG, window 1, +1 per batch. Another worker commits 10 once the first
    exchange was applied: without overlap the next exchange would pull it at
    once; with overlap the driver trains on from the centre it last pulled plus
    its own commit, and sees the 10 one exchange later (the C++ driver's steps)."""
    a = asyncps.Client(server.endpoints, LAYOUT, worker_id=0, algorithm="adag")
    other = asyncps.Client(server.endpoints, LAYOUT, worker_id=1, algorithm="adag")
    w = np.zeros(4, dtype=np.float32)
    a.init(w)
    d = asyncps.RuleDriver(a, window=1, overlap=True)
    assert d.config["overlap"] and not asyncps.rule_config("adag")["overlap"]
    d.start(w)
    seen = []
    for batch in range(3):
        d.before_batch(w)
        w += 1
        d.after_batch(w)  # rebases w, sends the commit in the background
        seen.append(float(w[0]))
        if batch == 0:
            _wait_for_updates(other, 1)
            other.commit(np.full(4, 10, dtype=np.float32))
    d.finish(w)
    # After batch 1: 0 + 1. Batch 2: base 1 (pulled with commit 1, before the 10) + 1.
    # Batch 3: base 12 (pulled with commit 2) + 1. finish: the last pull, 13.
    assert seen == [1.0, 2.0, 13.0]
    np.testing.assert_array_equal(w, np.full(4, 13, dtype=np.float32))
    assert (d.batches, d.commits) == (3, 3) == (3, asyncps.expected_commits("adag", 3, 1))
    assert _updates(a) == 4  # 3 commits + the other worker's


def test_the_driver_owns_the_client_while_an_exchange_is_in_flight(server):
    c = asyncps.Client(server.endpoints, LAYOUT, algorithm="adag")
    w = np.zeros(4, dtype=np.float32)
    c.init(w)
    d = asyncps.RuleDriver(c, window=1, overlap=True)
    d.start(w)
    c.pull(w)  # no exchange yet: the client is the caller's
    w += 1
    d.after_batch(w)
    with pytest.raises(asyncps.InvalidArgument, match="Client.pull: an overlapped asyncps.RuleDriver owns this client"):
        c.pull(w)
    with pytest.raises(asyncps.InvalidArgument, match="owns this client"):
        asyncps.RuleDriver(c, window=1)
    d.record_loss(0.5)  # the driver's own calls go on
    d.finish(w)
    assert d.commits == 1
    c.pull(w)
    np.testing.assert_array_equal(w, np.ones(4, dtype=np.float32))
    # Closing with an exchange in flight waits for it; the driver then refuses.
    w += 1
    d.after_batch(w)
    c.close()
    with pytest.raises(asyncps.InvalidArgument, match="closed"):
        d.finish(w)
    with pytest.raises(asyncps.InvalidArgument, match="closed"):
        d.commits


def test_overlap_is_refused_with_average_naming_why(server, monkeypatch):
    why = "overlap: average is synchronous"
    with pytest.raises(asyncps.InvalidArgument, match=why):
        asyncps.rule_config("average", overlap=True)
    with asyncps.server.LocalServer(shards=1, extra_args=["--max-staleness", "0"]) as barrier:
        c = asyncps.Client(barrier.endpoints, LAYOUT, algorithm="average")
        with pytest.raises(asyncps.InvalidArgument, match=why):
            asyncps.RuleDriver(c, workers=2, overlap=True)
        c.close()
        model = torch.nn.Linear(2, 2)
        with pytest.raises(asyncps.InvalidArgument, match=why):
            asyncps.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model,
                                               servers=barrier.endpoints, algorithm="average", overlap=True)
    model = torch.nn.Linear(2, 2)
    monkeypatch.setenv("ASYNCPS_OVERLAP", "sometimes")
    with pytest.raises(asyncps.InvalidArgument, match="ASYNCPS_OVERLAP"):
        asyncps.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model,
                                           servers=server.endpoints)
    with pytest.raises(asyncps.InvalidArgument, match="overlap must be True or False"):
        asyncps.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model,
                                           servers=server.endpoints, overlap="yes")
    r = subprocess.run([sys.executable, "-m", "asyncps.run", "--workers", "1", "--algorithm", "average", "--overlap",
                        __file__], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--overlap: average is synchronous" in r.stderr


def _train(algorithm, overlap, stage=False, steps=7, env=None):
    """One worker alone, a tiny model on fixed data; returns (its weights, the
    centre, commits, expected commits)."""
    with asyncps.server.LocalServer(shards=2) as server:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
        x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
        opt = asyncps.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.2), model,
                                                 servers=server.endpoints, algorithm=algorithm, window=3,
                                                 overlap=overlap, _stage=stage)
        assert opt.config["overlap"] == bool(overlap or env)
        opt.init_or_pull()
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        commits = opt.finish()
        centre = asyncps.torch.pull_model(
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)), server.endpoints)
        return (opt.flat.clone(), torch.cat([p.detach().reshape(-1) for p in centre.parameters()]), commits,
                opt.expected_commits())


@pytest.mark.parametrize("algorithm", ["downpour", "adag", "dynsgd", "easgd", "eamsgd"])
def test_distributed_optimizer_alone_trains_as_without_overlap(algorithm):
    """Alone, the pull after commit k is what the next synchronous exchange
    would return: the same weights, centre and commits, staged or not."""
    w, c, commits, expected = _train(algorithm, overlap=False)
    assert commits == expected
    for stage in (False, True):
        w_o, c_o, commits_o, expected_o = _train(algorithm, overlap=True, stage=stage)
        assert commits_o == expected_o == expected
        torch.testing.assert_close(w_o, w, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(c_o, c, rtol=1e-6, atol=1e-6)


def test_distributed_optimizer_takes_overlap_from_the_environment(monkeypatch):
    monkeypatch.setenv("ASYNCPS_OVERLAP", "1")
    _, _, commits, expected = _train("adag", overlap=None, env=True, steps=4)
    assert commits == expected == 2
