#!/usr/bin/env bash
# genmoji set-up for Debian 12: installs the system packages that are missing (apt),
# configures and builds, then runs the main job (`main`) or the test suites (`test`).
#
#   scripts/setup.sh main [genmoji compare options...]   # runs/compare-<date>-<time>/index.html
#   scripts/setup.sh test
#   scripts/setup.sh build          # only install and build
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
mode=${1:-main}
[ $# -gt 0 ] && shift

packages=(
  build-essential cmake pkg-config
  ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd clinfo
  libclblast-dev libpng-dev libcjson-dev check
  fonts-noto-color-emoji unicode-data
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

jobs=$(nproc 2>/dev/null || echo 2)
build() { # build DIR [cmake options...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

build build
case "$mode" in
  main)
    # the study end to end with a short budget; the report lands in runs/compare-*/
    exec ./build/genmoji compare --time 4m "$@"
    ;;
  test)
    # The plain build, then the same suites under AddressSanitizer + UBSan.
    ctest --test-dir build --output-on-failure -j"$jobs"
    build build-asan -DGM_SANITIZE=ON
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
    ;;
  build) ;;
  *)
    echo "usage: scripts/setup.sh main|test|build" >&2
    exit 2
    ;;
esac
