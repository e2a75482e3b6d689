"""3 PyTorch workers (examples/torch/launch.py) against 3 C++ workers
(asyncps-local) on the same Fashion-MNIST subset, settings and initial
weights: the same exact update count, accuracy within run-to-run noise; and
the C++ run's final .npz evaluates to the C++ accuracy in PyTorch."""
import json
import os
import subprocess
import sys

import pytest

import asyncps.mnist
import asyncps.torch
from conftest import binary, need_data, source_dir

SETTINGS = ["--workers", "3", "--shards", "1", "--algo", "adag", "--window", "5", "--batch-size", "16",
            "--epochs", "1", "--train-limit", "6000", "--test-limit", "2000", "--seed", "1"]
# 3 workers x 2,000 rows / batch 16 = 125 batches each, ceil(125 / 5) = 25 commits each.
EXPECTED_UPDATES = 75
# Runs differ by the asynchronous order of commits and the shuffles (PyTorch's
# DataLoader against the C++ batcher); the initial weights are the same.
# Measured on this subset, 12 pairs on 2026-12-04 (3 alone, 8 with two pairs
# at once, 1 under ctest -j2): C++ 0.802-0.8195, PyTorch 0.7955-0.808,
# PyTorch minus C++ -0.0005 to -0.024 (the -0.024 under ctest; 0.02 here
# failed it). 0.04 is the worst seen and two-thirds again; a broken PyTorch
# path (a wrong layout, lost commits) lands far lower.
TOLERANCE = 0.04


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    need_data()
    d = tmp_path_factory.mktemp("runs")
    cpp, torch_run = str(d / "cpp.json"), str(d / "torch.json")
    subprocess.run([binary("local")] + SETTINGS + ["--report-json", cpp, "--save-weights", str(d / "cpp.npz"),
                                                   "--timeout", "200"],
                   check=True, capture_output=True, timeout=240)
    r = subprocess.run([sys.executable, os.path.join(source_dir(), "examples", "torch", "launch.py")] + SETTINGS +
                       ["--report-json", torch_run, "--save-weights", str(d / "torch.npz"), "--timeout", "200"],
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(cpp) as f, open(torch_run) as g:
        return json.load(f), json.load(g), str(d / "cpp.npz"), r.stdout


def test_pytorch_workers_count_exactly_and_print_the_report(runs):
    cpp, torch_run, _, stdout = runs
    assert cpp["number_of_parameter_server_updates"] == EXPECTED_UPDATES
    assert torch_run["number_of_parameter_server_updates"] == torch_run["expected_updates"] == EXPECTED_UPDATES
    assert [w["commits"] for w in torch_run["workers"]] == [25, 25, 25]
    lines = stdout.splitlines()
    assert any(line.startswith("Training time: ") for line in lines)
    assert f"Number of parameter server updates: {EXPECTED_UPDATES}" in lines
    assert any(line.startswith("Accuracy: 0.") for line in lines)


def test_pytorch_workers_reach_the_cpp_workers_accuracy(runs):
    cpp, torch_run, _, _ = runs
    assert cpp["accuracy"] > 0.75, cpp["accuracy"]  # it trains: 10 classes, chance is 0.1
    assert abs(torch_run["accuracy"] - cpp["accuracy"]) <= TOLERANCE, (torch_run["accuracy"], cpp["accuracy"])


def test_the_cpp_runs_weights_evaluate_the_same_in_pytorch(runs):
    cpp, _, cpp_npz, _ = runs
    model = asyncps.torch.seed_cnn()
    asyncps.torch.load_weights(cpp_npz, model.named_parameters())
    x, y = asyncps.mnist.load(split="test", limit=2000)
    accuracy, _ = asyncps.torch.evaluate(model, x, y)
    # Float summation order may flip a near-tie or two, nothing more.
    assert abs(accuracy - cpp["accuracy"]) <= 2 / 2000, (accuracy, cpp["accuracy"])
