"""`import asyncps` needs neither torch nor numpy: simulated by hiding them
(sys.modules[name] = None makes `import name` fail) in a fresh interpreter."""
import subprocess
import sys

import pytest

SCRIPT = r"""
import sys
for hidden in ("torch", "numpy"):
    sys.modules[hidden] = None          # `import torch` now raises ImportError
import asyncps, asyncps.server
layout = asyncps.Layout([("w", (4,))])
buf = __import__("array").array("f", [0.0] * 4)       # the buffer protocol, without numpy
with asyncps.server.LocalServer() as server:
    with asyncps.Client(server.endpoints, layout) as client:
        assert client.init(buf)
        client.pull(buf)
try:
    import asyncps.torch
except ImportError as e:
    print("asyncps.torch:", e)
else:
    raise SystemExit("asyncps.torch imported without torch")
assert sys.modules["torch"] is None
print("ok")
"""


def test_import_asyncps_works_without_torch_and_numpy():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("ok")
    assert "asyncps.torch:" in r.stdout


def test_the_check_itself_fails_when_torch_is_imported():
    # The hiding works: a script that needs torch fails under it.
    r = subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None; import torch"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "import of torch halted" in r.stderr
    pytest.importorskip("torch")  # and torch is really there otherwise
