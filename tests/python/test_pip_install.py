"""pip installs the package from the checkout, offline, with Debian's build tools,
into a fresh venv (as docs/python.md says), and the installed copy works: its
version is the project's and a client talks to a server."""
import os
import pathlib
import re
import subprocess
import sys
import venv

import pytest

ROOT = pathlib.Path(os.environ.get("ASYNCPS_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))


def test_pip_install_into_a_fresh_venv(tmp_path):
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        pytest.skip(f"{sys.executable} has no pip (apt-get install python3-pip python3-venv)")
    env_dir = tmp_path / "venv"
    try:
        venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    except Exception as e:  # noqa: BLE001 (Debian without python3-venv)
        pytest.skip(f"cannot create a venv: {e}")
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(python), "-m", "pip", "install", "--no-build-isolation", "--no-index", "-q",
                        str(ROOT / "client" / "python")], capture_output=True, text=True, env=env, timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    version = re.search(r"project\(asyncps VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
    code = ("import asyncps, asyncps.server, numpy as np\n"
            "print(asyncps.__file__)\nprint(asyncps.__version__)\n"
            "with asyncps.server.LocalServer(shards=1) as s:\n"
            "    c = asyncps.Client(s.endpoints, [('w', (2, 3))], worker_id=1, algorithm='downpour')\n"
            "    assert c.init(np.arange(6, dtype=np.float32))\n"
            "    w = np.zeros(6, np.float32); c.pull(w); print(int(w.sum()))\n")
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    module, got_version, total = r.stdout.split()
    assert module.startswith(str(env_dir)), module  # the venv's copy, not the build tree's
    installed = pathlib.Path(module).parent
    assert (installed / "py.typed").exists() and (installed / "_asyncps.pyi").exists()
    assert (env_dir / "bin" / "asyncps-run").exists()  # the launcher's console script
    assert got_version == version
    assert total == "15"
