"""asyncps.torch.DistributedOptimizer is a torch.optim.Optimizer (a subclass of
the wrapped optimizer's class, as Horovod's), so LR schedulers and the
optimizer's own interface work; the launcher's environment fills what is not
given; partition() shares a data set out; pull_model() loads the PS's centre
through an observer of any algorithm."""
import numpy as np
import pytest
import torch

import asyncps
import asyncps.torch


def model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def train(opt, m, steps, scheduler=None):
    x, y = torch.ones(8, 4), torch.zeros(8, dtype=torch.long)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step(loss.item()) if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) \
                else scheduler.step()


def test_it_is_an_instance_of_the_wrapped_optimizer_class(server):
    m = model()
    inner = torch.optim.Adam(m.parameters(), lr=0.01)
    opt = asyncps.torch.DistributedOptimizer(inner, m.named_parameters(), servers=server.endpoints, worker_id=1)
    assert isinstance(opt, torch.optim.Adam) and isinstance(opt, torch.optim.Optimizer)
    assert type(opt).__name__ == "Adam"
    assert opt.param_groups[0]["lr"] == 0.01
    opt.init_or_pull()
    train(opt, m, 4)
    state = opt.state_dict()
    assert len(state["state"]) == 4 and state["state"][0]["step"] == 4  # Adam's state is the wrapped one's
    opt.load_state_dict(state)
    assert opt.finish() == opt.expected_commits()
    with pytest.raises(asyncps.InvalidArgument, match="already a DistributedOptimizer"):
        asyncps.torch.DistributedOptimizer(opt, m.named_parameters(), servers=server.endpoints)


@pytest.mark.parametrize("kind", ["StepLR", "ReduceLROnPlateau"])
def test_lr_schedulers_drive_it(server, kind):
    m = model()
    opt = asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=0.1), m.named_parameters(),
                                             servers=server.endpoints, worker_id=1, algorithm="downpour")
    if kind == "StepLR":
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        expected = 0.1 * 0.5 ** 3  # 6 steps
    else:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0)
        expected = 0.1 * 0.5 ** 5  # the loss never rises: every step after the first is "no improvement"
    opt.init_or_pull()
    train(opt, m, 6, scheduler)
    assert opt.param_groups[0]["lr"] == pytest.approx(expected)
    assert opt.batches == 6
    opt.finish()


def test_the_launchers_environment_fills_what_is_not_given(server, monkeypatch):
    monkeypatch.setenv("ASYNCPS_SERVERS", ",".join(server.endpoints))
    monkeypatch.setenv("ASYNCPS_WORKER_ID", "3")
    monkeypatch.setenv("ASYNCPS_ALGORITHM", "dynsgd")
    monkeypatch.setenv("ASYNCPS_WINDOW", "7")
    m = model()
    opt = asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=0.1), m.named_parameters())
    assert opt.config["algorithm"] == "dynsgd" and opt.config["window"] == 7
    assert opt.client.options["worker_id"] == 3
    monkeypatch.setenv("ASYNCPS_WINDOW", "seven")
    with pytest.raises(asyncps.InvalidArgument, match="ASYNCPS_WINDOW"):
        asyncps.torch.DistributedOptimizer(torch.optim.SGD(model().parameters(), lr=0.1), model().named_parameters())
    monkeypatch.delenv("ASYNCPS_WINDOW")
    monkeypatch.delenv("ASYNCPS_SERVERS")
    with pytest.raises(asyncps.InvalidArgument, match="asyncps.run"):
        asyncps.torch.DistributedOptimizer(torch.optim.SGD(model().parameters(), lr=0.1), model().named_parameters())


def test_partition_gives_disjoint_shares_that_cover_the_data(monkeypatch):
    data = list(range(10))
    shares = [list(asyncps.torch.partition(data, worker_id=k, num_workers=3)) for k in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    monkeypatch.setenv("ASYNCPS_WORKER_ID", "1")
    monkeypatch.setenv("ASYNCPS_NUM_WORKERS", "2")
    assert list(asyncps.torch.partition(data)) == [1, 3, 5, 7, 9]
    with pytest.raises(asyncps.InvalidArgument, match="outside 0..1"):
        asyncps.torch.partition(data, worker_id=2)


def test_pull_model_loads_the_centre_through_an_observer_of_any_algorithm(server):
    m = model(0)
    opt = asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=0.1), m.named_parameters(),
                                             servers=server.endpoints, worker_id=1, algorithm="downpour", window=1)
    opt.init_or_pull()
    train(opt, m, 3)
    opt.finish()
    centre = np.empty(opt.layout.total_size, np.float32)
    observer = asyncps.Client(server.endpoints, opt.layout, algorithm="downpour", observer=True)
    observer.pull(centre)
    fresh = model(1)  # other weights, the same architecture
    asyncps.torch.pull_model(fresh, servers=server.endpoints)  # no algorithm: the observer's default (adag)
    got = np.concatenate([p.detach().numpy().reshape(-1) for p in fresh.parameters()])
    np.testing.assert_array_equal(got, centre)


def bn_model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))


def test_batchnorm_running_statistics_travel_with_the_weights(server):
    worker = bn_model(0)
    opt = asyncps.torch.DistributedOptimizer(torch.optim.SGD(worker.parameters(), lr=0.1), worker,
                                             servers=server.endpoints, worker_id=1, algorithm="downpour", window=1)
    # After the parameters; the integer num_batches_tracked stays local.
    assert opt.layout.names[-2:] == ["1/running_mean", "1/running_var"]
    opt.init_or_pull()
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(5)) * 3 + 2
    for _ in range(3):
        opt.zero_grad()
        worker(x).sum().backward()
        opt.step()
    opt.finish()
    fresh = bn_model(1)
    asyncps.torch.pull_model(fresh, servers=server.endpoints)
    # DOWNPOUR, one worker: the centre is the worker's weights after its last step (the running
    # statistics included), so the PS's model predicts as the worker's own does.
    assert float(fresh[1].running_mean.abs().sum()) > 0
    np.testing.assert_allclose(fresh[1].running_mean.numpy(), worker[1].running_mean.numpy(), rtol=1e-6)
    worker.eval(), fresh.eval()
    np.testing.assert_allclose(fresh(x).detach().numpy(), worker(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_buffers_local_keeps_them_out_of_the_layout(server):
    m = bn_model(0)
    opt = asyncps.torch.DistributedOptimizer(torch.optim.SGD(m.parameters(), lr=0.1), m, servers=server.endpoints,
                                             worker_id=1, buffers="local")
    assert opt.layout.total_size == sum(p.numel() for p in m.parameters())
    with pytest.raises(asyncps.InvalidArgument, match="'travel' or 'local'"):
        asyncps.torch.pull_model(bn_model(1), servers=server.endpoints, buffers="shared")
