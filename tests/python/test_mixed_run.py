"""One C++ worker (asyncps-worker) and two PyTorch workers (examples/torch/
worker.py) train the seed CNN together on one 2-shard PS: the layouts agree,
every commit is counted, and the shared model learns."""
import json
import os
import subprocess
import sys


import asyncps
import asyncps.mnist
import asyncps.torch
from conftest import binary, need_data, source_dir

ROWS = 3000  # 1,000 per worker: 63 batches of 16 (the last one partial), ceil(63 / 5) = 13 commits each


def test_cpp_and_pytorch_workers_share_one_ps(server2, tmp_path):
    data = need_data()
    common = ["--servers", ",".join(server2.endpoints), "--num-workers", "3", "--algo", "adag", "--window", "5",
              "--batch-size", "16", "--epochs", "1", "--train-limit", str(ROWS), "--seed", "1", "--data", data]
    procs = [subprocess.Popen([binary("worker"), "--worker-index", "0", "--report-json", str(tmp_path / "w0.json")]
                              + common, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    worker_py = os.path.join(source_dir(), "examples", "torch", "worker.py")
    for i in (1, 2):
        procs.append(subprocess.Popen([sys.executable, worker_py, "--worker-index", str(i), "--report-json",
                                       str(tmp_path / f"w{i}.json")] + common,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for i, p in enumerate(procs):
        out, _ = p.communicate(timeout=200)
        assert p.returncode == 0, f"worker {i}: {out}"
    reports = []
    for i in range(3):
        with open(tmp_path / f"w{i}.json") as f:
            reports.append(json.load(f))
    assert [r["batches"] for r in reports] == [63, 63, 63]
    assert [r["commits"] for r in reports] == [13, 13, 13]
    assert [r["expected_commits"] for r in reports] == [13, 13, 13]

    model = asyncps.torch.seed_cnn()
    with asyncps.Client(server2.endpoints, model.layout, worker_id=1000, algorithm="adag") as c:
        c.pull(model.flat.numpy())
        stats = c.stats()
    assert [s["updates"] for s in stats] == [39, 39]
    assert [s["commits_per_worker"] for s in stats] == [{0: 13, 1: 13, 2: 13}] * 2
    assert all(s["errors"] == 0 for s in stats)
    x, y = asyncps.mnist.load(data, "test", limit=1000)
    accuracy, _ = asyncps.torch.evaluate(model, x, y)
    assert accuracy > 0.55, accuracy  # chance is 0.1; the untrained seed weights score about that
    untrained, _ = asyncps.torch.evaluate(asyncps.torch.seed_cnn(), x, y)
    assert untrained < 0.3, untrained
