"""A model on a GPU through asyncps.torch.DistributedOptimizer: the staging
path (the parameters in one flat device buffer, the client on a flat host
copy, copies only around the rule's exchanges), run here with the "device"
buffer on the CPU (_stage=True), the very code a CUDA model runs. For every
rule, two workers interleaved step by step (as in test_torch_rules.py) give
bit-identical weights, PS centre and commit counts staged and unstaged, and
the weights cross between host and device once each way per exchange, never
on the other steps."""
import numpy as np
import pytest
import torch

import asyncps
import asyncps.server
import asyncps.torch

BATCHES = (7, 8)
F32 = np.float32


class Tiny(torch.nn.Module):
    """Two parameters and a floating-point buffer (which travels too)."""

    def __init__(self, seed):
        super().__init__()
        g = np.random.default_rng(seed)
        self.a = torch.nn.Parameter(torch.from_numpy(g.normal(size=(2, 3)).astype(F32)))
        self.b = torch.nn.Parameter(torch.from_numpy(g.normal(size=(4,)).astype(F32)))
        self.register_buffer("mean", torch.zeros(3))

    def loss(self, x, t):
        self.mean.mul_(0.9).add_(0.1 * x.mean(0))  # a running statistic, as BatchNorm's
        y = torch.tanh(x @ self.a.t()).sum(1, keepdim=True) * self.b
        return ((y - t) ** 2).mean()


def data(worker, k):
    g = torch.Generator().manual_seed(1000 * worker + k)
    return torch.randn(5, 3, generator=g), torch.randn(5, 4, generator=g)


def run(algo, window, stage):
    """Two workers, interleaved; returns (final flat weights per worker,
    centre, commits per worker, updates per shard, the optimizers, per-step
    (copies to host, copies to device, commits) for each worker)."""
    with asyncps.server.LocalServer(shards=2) as server:
        models = [Tiny(1), Tiny(2)]
        opts = [asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.5), m,
                                                   servers=server.endpoints, worker_id=i, algorithm=algo,
                                                   window=window, _stage=stage)
                for i, m in enumerate(models)]
        trace = [[], []]

        def record(i):
            o = opts[i]
            trace[i].append((o.copies_to_host, o.copies_to_device, o.commits))

        for i in range(2):
            opts[i].init_or_pull()
            record(i)
        for k in range(max(BATCHES)):
            for i in range(2):
                if k < BATCHES[i]:
                    opts[i].zero_grad()
                    models[i].loss(*data(i, k)).backward()
                    opts[i].step()
                    record(i)
        for i in range(2):
            opts[i].finish()
            record(i)
        weights = [torch.cat([t.detach().reshape(-1) for _, t in asyncps.torch.exchanged_tensors(m)]).numpy().copy()
                   for m in models]
        reporter = asyncps.Client(server.endpoints, opts[0].layout, worker_id=99, algorithm=algo)
        center = np.empty(opts[0].layout.total_size, dtype=F32)
        reporter.pull(center)
        stats = reporter.stats()
        reporter.close()
        return weights, center, [o.commits for o in opts], stats, opts, trace


@pytest.mark.parametrize("window", [1, 3])
# Not average: its rounds wait for every worker, and run() drives both in one thread.
@pytest.mark.parametrize("algo", [a for a in asyncps.ALGORITHMS if a != "average"])
def test_staged_and_unstaged_runs_are_bit_identical_with_one_copy_each_way_per_exchange(algo, window):
    w_plain, c_plain, commits_plain, stats_plain, plain, trace_plain = run(algo, window, stage=False)
    w_staged, c_staged, commits_staged, stats_staged, staged, trace = run(algo, window, stage=True)

    expected = [asyncps.expected_commits(algo, b, window) for b in BATCHES]
    assert commits_plain == commits_staged == expected
    assert [s["updates"] for s in stats_plain] == [s["updates"] for s in stats_staged] == [sum(expected)] * 2
    assert [s["commits_per_worker"] for s in stats_plain] == [s["commits_per_worker"] for s in stats_staged]
    np.testing.assert_array_equal(c_staged, c_plain)
    for a, b in zip(w_staged, w_plain):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(w_plain[0], w_plain[1])  # the workers really differ: the comparison means something

    # Unstaged, the client works on the parameters' own buffer: no copies.
    for o in plain:
        assert not o.staged and o.host is o.flat and o.copies_to_host == o.copies_to_device == 0
    assert all(t == (0, 0, t[2]) for worker in trace_plain for t in worker)
    for o in staged:
        assert o.staged and o.host.data_ptr() != o.flat.data_ptr()

    for i, o in enumerate(staged):
        steps = trace[i]  # after init_or_pull, after each step, after finish
        deltas = [tuple(b - a for a, b in zip(steps[j - 1], steps[j])) for j in range(1, len(steps))]
        per_step, at_finish = deltas[:-1], deltas[-1]
        assert steps[0] == (1, 1, 0)  # init + start (+ EAMSGD's first look-ahead): one copy each way
        if algo == "eamsgd":
            # The momentum update and the look-ahead read and write the weights every batch
            # (and the elastic exchange every window batches, within the same copies).
            assert per_step == [(1, 1, int(d[2] > 0)) for d in per_step]
            assert sum(d[2] for d in per_step) == expected[i] - at_finish[2]
            # finish(): W (the host's) replaces the look-ahead: one copy to the device, none back.
            assert at_finish[:2] == (0, 1)
            assert (o.copies_to_host, o.copies_to_device) == (1 + BATCHES[i], 2 + BATCHES[i])
        else:
            # A copy each way exactly at the steps that exchange (and at finish() when batches are unsent).
            assert per_step == [(d[2], d[2], d[2]) for d in per_step]
            assert at_finish == (at_finish[2],) * 3
            assert o.copies_to_host == o.copies_to_device == 1 + o.commits


def test_staging_wants_one_device_for_every_parameter():
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(3, device="meta"))
    with pytest.raises(asyncps.InvalidArgument, match="parameter 'b' is on meta but 'a' is on cpu; move the whole "
                                                      r"model to one device \(model.to\(device\)\)"):
        asyncps.torch.flatten_parameters([("a", a), ("b", b)])
