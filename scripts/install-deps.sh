#!/usr/bin/env bash
# Installs the Debian packages asyncps needs.
# Usage: scripts/install-deps.sh [--tests] [--with-containers] [--with-slurm]
#   (none)             what building and running the main job needs
#                      (scripts/seed-experiment.sh): compilers, the libraries,
#                      and the Fashion-MNIST data set.
#   --tests            also what the test suite and the benchmarks use: the
#                      Python package's build and tests (pybind11, numpy, torch,
#                      h5py, pytest), chromium for the status page test,
#                      prometheus' promtool, clang for fuzzing, linters.
#   --with-containers  also docker, compose, debootstrap and kubectl
#                      (deploy/test.sh).
#   --with-slurm       also Slurm's daemons and clients and munge
#                      (deploy/slurm/test.sh).
# Idempotent; runs apt-get only for packages that are missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libzmq3-dev cppzmq-dev
  libflatbuffers-dev flatbuffers-compiler
  libxtensor-dev libxtensor-blas-dev libxsimd-dev xtl-dev libopenblas-dev libdnnl-dev
  libcli11-dev nlohmann-json3-dev zlib1g-dev libcpp-httplib-dev libhdf5-dev
  dataset-fashion-mnist
)
for arg in "$@"; do
  case $arg in
    --tests)
      packages+=(
        catch2
        python3 python3-dev python3-numpy python3-torch python3-pytest python3-h5py python3-threadpoolctl
        pybind11-dev python3-pybind11 python3-venv python3-pip python3-setuptools python3-wheel
        prometheus chromium gnuplot-nox clang libclang-rt-14-dev
        clang-format flake8 iproute2 procps
      ) ;;
    --with-containers) packages+=(docker.io docker-compose debootstrap kubectl) ;;
    --with-slurm) packages+=(slurmctld slurmd slurm-client munge) ;;
    *) echo "install-deps.sh: unknown option '$arg' (expected --tests, --with-containers or --with-slurm)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "install-deps.sh: installing ${#missing[@]} packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
