"""Every rule through asyncps.torch.DistributedOptimizer: two PyTorch workers
(interleaved step by step in one thread, so the order of their exchanges is
fixed) train a tiny model with SGD on a quadratic loss; the PS centre, each
worker's final weights and the update count equal a hand computation of the
rules (ALGORITHMS.md), written here independently of the C++ code."""
import numpy as np
import pytest
import torch

import asyncps
import asyncps.torch

WINDOW, LR = 3, 0.25
BATCHES = (7, 8)  # neither a multiple of the window; the before-batch rules exchange at it = 3, 6
RHO, ETA, MU = 5.0, 0.1, 0.9
F32 = np.float32


class Tiny(torch.nn.Module):
    def __init__(self, seed):
        super().__init__()
        g = np.random.default_rng(seed)
        self.a = torch.nn.Parameter(torch.from_numpy(g.normal(size=(2, 3)).astype(F32)))
        self.b = torch.nn.Parameter(torch.from_numpy(g.normal(size=(4,)).astype(F32)))

    def loss(self, ta, tb):  # gradient: (a - ta, b - tb), exactly
        return 0.5 * ((self.a - ta) ** 2).sum() + 0.5 * ((self.b - tb) ** 2).sum()


# --- the hand computation ---------------------------------------------------------

class SimPS:
    def __init__(self, algo):
        self.algo, self.c, self.updates, self.per_worker = algo, None, 0, {}

    def commit(self, worker, payload, last_pulled):
        tau = self.updates - last_pulled + 1
        scale = F32(1) / F32(tau) if self.algo == "dynsgd" else F32(1)
        self.c = self.c + scale * payload
        self.updates += 1
        self.per_worker[worker] = self.per_worker.get(worker, 0) + 1


class SimWorker:
    """One worker, step by step as DistributedOptimizer runs it: step() =
    train + the after-batch work + the next batch's before-batch work."""

    def __init__(self, ps, worker, w, target):
        self.ps, self.worker, self.w, self.t = ps, worker, w.copy(), target
        self.v = np.zeros_like(w)
        self.saved = None
        self.batches = self.unsent = self.commits = 0
        self.before = ps.algo in ("downpour", "easgd", "eamsgd")

    def init_or_pull(self):
        if self.ps.c is None:
            self.ps.c = self.w.copy()
        self.pull_into_w()
        self.prepare_next()

    def pull_into_w(self):
        self.w, self.w0, self.last = self.ps.c.copy(), self.ps.c.copy(), self.ps.updates

    def exchange(self):
        algo = self.ps.algo
        if algo in ("downpour", "adag", "dynsgd"):
            inv = F32(1) / F32(WINDOW if algo == "adag" else 1)
            self.ps.commit(self.worker, (self.w - self.w0) * inv, self.last)
            self.pull_into_w()
        else:
            center, self.last = self.ps.c.copy(), self.ps.updates
            e = F32(RHO * ETA) * (self.w - center)
            self.w = self.w - e
            self.ps.commit(self.worker, e, self.last)
        self.commits += 1
        self.unsent = 0

    def prepare_next(self):
        if self.before and (self.batches + 1) % WINDOW == 0 and self.unsent > 0:
            self.exchange()
        if self.ps.algo == "eamsgd":
            self.v = self.v * F32(MU)
            self.saved = self.w.copy()
            self.w = self.w + self.v

    def step(self):
        self.w = self.w + F32(-LR) * (self.w - self.t)  # SGD on the quadratic loss
        if self.ps.algo == "eamsgd":
            g = self.w - (self.saved + self.v)
            self.v = self.v - F32(ETA) * g
            self.w = self.saved - self.v
        self.batches += 1
        self.unsent += 1
        if not self.before and self.batches % WINDOW == 0:
            self.exchange()
        self.prepare_next()

    def finish(self):
        if self.ps.algo == "eamsgd":
            self.w = self.saved  # the look-ahead of a batch never trained
        if self.unsent > 0:
            self.exchange()


def flat(model):
    return np.concatenate([p.detach().numpy().reshape(-1) for p in model.parameters()])


# The asynchronous rules: average's rounds wait for every worker, which this
# single-threaded lock-step cannot drive (tests/python/test_rule_driver.py runs
# it with threads).
ASYNC_RULES = [a for a in asyncps.ALGORITHMS if a != "average"]


@pytest.mark.parametrize("algo", ASYNC_RULES)
def test_rule_matches_the_hand_computation_and_counts_exactly(server2, algo):
    models = [Tiny(1), Tiny(2)]
    targets = [Tiny(10 + i) for i in range(2)]
    opts = [asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=LR), m.named_parameters(),
                                               servers=server2.endpoints, worker_id=i, algorithm=algo,
                                               window=WINDOW)
            for i, m in enumerate(models)]
    ps = SimPS(algo)
    sims = [SimWorker(ps, i, flat(m), flat(t)) for i, (m, t) in enumerate(zip(models, targets))]

    assert opts[0].init_or_pull() is True and opts[1].init_or_pull() is False
    for s in sims:
        s.init_or_pull()
    for k in range(max(BATCHES)):
        for i in range(2):
            if k < BATCHES[i]:
                opts[i].zero_grad()
                models[i].loss(targets[i].a.detach(), targets[i].b.detach()).backward()
                opts[i].step()
                sims[i].step()
    for o, s in zip(opts, sims):
        o.finish()
        s.finish()

    expected = [asyncps.expected_commits(algo, b, WINDOW) for b in BATCHES]
    assert [o.commits for o in opts] == [s.commits for s in sims] == [o.expected_commits() for o in opts] == expected
    reporter = asyncps.Client(server2.endpoints, opts[0].layout, worker_id=99, algorithm=algo)
    center = np.empty(opts[0].layout.total_size, dtype=F32)
    reporter.pull(center)
    stats = reporter.stats()
    assert [s["updates"] for s in stats] == [sum(expected)] * 2
    assert stats[0]["commits_per_worker"] == {0: expected[0], 1: expected[1]}
    np.testing.assert_allclose(center, ps.c, rtol=1e-6, atol=1e-6)
    for m, s in zip(models, sims):
        np.testing.assert_allclose(flat(m), s.w, rtol=1e-6, atol=1e-6)
    # The parameters are slices of the optimizer's flat buffer: no copies.
    assert models[0].a.data_ptr() == opts[0].flat.data_ptr()
    assert models[0].b.data_ptr() == opts[0].flat.data_ptr() + 6 * 4


def test_the_hand_computation_tells_the_rules_apart():
    # Guards the test above: if two rules gave the same centre, it could not
    # catch one implemented as the other.
    centres = {}
    for algo in ASYNC_RULES:
        ps = SimPS(algo)
        sims = [SimWorker(ps, i, flat(Tiny(1 + i)), flat(Tiny(10 + i))) for i in range(2)]
        for s in sims:
            s.init_or_pull()
        for k in range(max(BATCHES)):
            for i in range(2):
                if k < BATCHES[i]:
                    sims[i].step()
        for s in sims:
            s.finish()
        centres[algo] = ps.c
    algos = list(centres)
    for i in range(len(algos)):
        for j in range(i + 1, len(algos)):
            assert np.abs(centres[algos[i]] - centres[algos[j]]).max() > 1e-3, (algos[i], algos[j])


def test_step_before_init_or_pull_and_after_finish_raise(server):
    m = Tiny(1)
    opt = asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=LR), m.named_parameters(),
                                             servers=server.endpoints)
    with pytest.raises(RuntimeError, match="init_or_pull"):
        opt.step()
    opt.init_or_pull()
    opt.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        opt.step()


def test_a_parameter_that_is_not_float32_is_named(server):
    m = Tiny(1).double()
    with pytest.raises(asyncps.InvalidArgument, match="parameter 'a' is torch.float64"):
        asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=LR), m.named_parameters(),
                                           servers=server.endpoints)


def test_parameters_without_names_are_refused_saying_what_is_expected(tmp_path):
    m = torch.nn.Linear(3, 2)  # its weight is 2 x 3: unpacked as if it were a (name, tensor) pair before
    expected = r"named_parameters must be \(name, tensor\) pairs.*entry 0 is a Parameter: pass " \
               r"model.named_parameters\(\), not model.parameters\(\)"
    with pytest.raises(asyncps.InvalidArgument, match=expected):
        asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=LR), m.parameters(),
                                           servers=["tcp://127.0.0.1:9"])
    with pytest.raises(asyncps.InvalidArgument, match=expected):
        asyncps.torch.save_weights(tmp_path / "w.npz", m.parameters())
    asyncps.torch.save_weights(tmp_path / "w.npz", m.named_parameters())
    with pytest.raises(asyncps.InvalidArgument, match=expected):
        asyncps.torch.load_weights(tmp_path / "w.npz", list(m.parameters()))
    with pytest.raises(asyncps.InvalidArgument, match="not a Linear"):
        asyncps.torch.flatten_parameters(m)
