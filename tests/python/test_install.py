"""cmake --install puts the package under <prefix>/<the Python site folder>,
importable from there, and the installed copy looks for the asyncps binaries
in <prefix>/bin, wherever the prefix is."""
import os
import subprocess
import sys

import pytest


def test_the_installed_package_imports_from_the_prefix(tmp_path):
    script = os.environ.get("ASYNCPS_PYTHON_CMAKE_INSTALL")
    if not script:
        pytest.skip("ASYNCPS_PYTHON_CMAKE_INSTALL is not set (run through ctest)")
    prefix = tmp_path / "prefix"
    # The package's own install rules (what cmake --install runs for this folder).
    subprocess.run([os.environ.get("CMAKE_COMMAND", "cmake"), f"-DCMAKE_INSTALL_PREFIX={prefix}", "-P", script],
                   check=True, capture_output=True, timeout=60)
    site = prefix / os.environ["ASYNCPS_PYTHON_INSTALL_DIR"]
    assert (site / "asyncps" / "__init__.py").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCPS_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    code = ("import asyncps, asyncps._paths as p; print(asyncps.__file__); print(p.SERVER_BIN); "
            "print(asyncps.Layout([('w', (2, 3))]).total_size)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    module, server_bin, size = r.stdout.split()
    assert module == str(site / "asyncps" / "__init__.py")
    assert server_bin == str(prefix / "bin" / "asyncps-server")
    assert size == "6"
