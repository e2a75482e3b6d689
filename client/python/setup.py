"""Builds the asyncps extension with the project's CMake for pip (pyproject.toml).

The package's Python files are taken from asyncps/ here; the extension
(asyncps._asyncps) is built from the whole checkout (two folders up) with only
the client library and the Python module enabled, for the interpreter running
pip, and copied into the wheel. The version is the CMake project's.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(asyncps VERSION ([0-9.]+)", text)
    if not match:
        sys.exit(f"setup.py: no 'project(asyncps VERSION ...)' in {ROOT / 'CMakeLists.txt'}")
    return match.group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        if shutil.which("cmake") is None:
            sys.exit("setup.py: cmake is needed to build the asyncps extension: apt-get install cmake "
                     "(scripts/install-deps.sh installs every build dependency)")
        build = pathlib.Path(self.build_temp).resolve() / "cmake"
        configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                     f"-DPython3_EXECUTABLE={sys.executable}", "-DASYNCPS_BUILD_PYTHON=ON",
                     "-DASYNCPS_BUILD_TESTS=OFF", "-DASYNCPS_BUILD_BENCH=OFF", "-DASYNCPS_BUILD_MODELS=OFF"]
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "asyncps_python", "-j", jobs], check=True)
        built = sorted((build / "python" / "asyncps").glob("_asyncps*.so"))
        if not built:
            sys.exit(f"setup.py: the build left no _asyncps*.so in {build / 'python' / 'asyncps'}")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], target)
        shutil.copy2(build / "python" / "asyncps" / "_asyncps.pyi", target.parent)  # the build's stubgen.py


setup(version=project_version(),
      ext_modules=[Extension("asyncps._asyncps", sources=[])],
      cmdclass={"build_ext": CMakeBuild})
