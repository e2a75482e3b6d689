"""examples/torch/train.py, a user's script, runs under the launcher as its
docstring says, on a little Fashion-MNIST: every worker trains and commits,
and worker 0 reports the PS's model's accuracy (for the ResNet with
BatchNorm, its running statistics travel through the PS)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import binary, need_data

ROOT = os.environ.get("ASYNCPS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.mark.parametrize("model,algorithm", [("seed", "adag"), ("resnet", "downpour")])
def test_the_example_trains_through_the_launcher(model, algorithm, tmp_path):
    need_data()
    env = dict(os.environ, ASYNCPS_SERVER_BIN=binary("server"))
    r = subprocess.run([sys.executable, "-m", "asyncps.run", "--workers", "2", "--shards", "2", "--algorithm",
                        algorithm, os.path.join(ROOT, "examples", "torch", "train.py"), "--model", model,
                        "--train-limit", "640", "--test-limit", "200"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert re.search(r"\[worker 0\] worker 0: 20 batches, \d+ commits", r.stdout), r.stdout
    assert re.search(r"\[worker 1\] worker 1: 20 batches, \d+ commits", r.stdout), r.stdout
    accuracy = re.search(r"the PS's model (\d\.\d+)", r.stdout)
    assert accuracy and 0 <= float(accuracy.group(1)) <= 1, r.stdout
    assert "Number of parameter server updates:" in r.stdout
