#!/usr/bin/env bash
# Installs every Debian package asyncps needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [--with-containers]
# Idempotent; runs apt-get only for packages that are missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libzmq3-dev cppzmq-dev
  libflatbuffers-dev flatbuffers-compiler
  libxtensor-dev libxtensor-blas-dev libxsimd-dev xtl-dev libopenblas-dev libdnnl-dev
  catch2 libcli11-dev nlohmann-json3-dev zlib1g-dev
  dataset-fashion-mnist
  python3 python3-dev python3-numpy python3-torch python3-pytest
  pybind11-dev python3-pybind11 libhdf5-dev python3-h5py
  libcpp-httplib-dev prometheus chromium
  gnuplot-nox clang libclang-rt-14-dev
  iproute2 procps
)
if [[ "${1:-}" == "--with-containers" ]]; then
  packages+=(docker.io docker-compose debootstrap kubectl)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
