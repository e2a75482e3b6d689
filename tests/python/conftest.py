"""Shared fixtures: a real asyncps-server on 127.0.0.1 (OS-chosen ports), and
the binaries and data the tests use. ctest sets PYTHONPATH to the build tree's
package and ASYNCPS_*_BIN to the binaries (tests/python/CMakeLists.txt)."""
import os

import pytest

import asyncps
import asyncps.server

DATA_DIR = "/usr/share/datasets/fashion-mnist"


@pytest.fixture
def server():
    """One shard."""
    with asyncps.server.LocalServer(shards=1) as s:
        yield s


@pytest.fixture
def server2():
    """Two shards (so a tensor is split across them)."""
    with asyncps.server.LocalServer(shards=2) as s:
        yield s


def binary(name):
    """An asyncps binary from the environment ctest sets up, or skip."""
    path = os.environ.get("ASYNCPS_" + name.upper() + "_BIN")
    if not path or not os.path.exists(path):
        pytest.skip(f"ASYNCPS_{name.upper()}_BIN is not set (run through ctest)")
    return path


def need_data():
    if not os.path.exists(os.path.join(DATA_DIR, "train-images-idx3-ubyte")) and \
            not os.path.exists(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz")):
        pytest.skip(f"Fashion-MNIST is not installed in {DATA_DIR} (apt-get install dataset-fashion-mnist)")
    return DATA_DIR


def pytest_sessionfinish(session, exitstatus):
    """A file whose tests were all skipped (data or module missing) is a skip
    for ctest (exit 77, SKIP_RETURN_CODE), never a pass; with
    ASYNCPS_REQUIRE_DATA=1 (CI) any skip is a failure."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or exitstatus != 0:
        return
    skipped = len(reporter.stats.get("skipped", []))
    passed = len(reporter.stats.get("passed", []))
    if skipped and os.environ.get("ASYNCPS_REQUIRE_DATA") == "1":
        session.exitstatus = 1
    elif skipped and not passed:
        session.exitstatus = 77


def source_dir():
    return os.environ.get("ASYNCPS_SOURCE_DIR",
                          os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
