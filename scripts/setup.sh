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
  libclblast-dev libpng-dev libcjson-dev libxml2-dev check
  libmicrohttpd-dev libsqlite3-dev
  fonts-noto-color-emoji unicode-data unicode-cldr-core
)
# `test` also needs: clang and libFuzzer (the clang Release build, the fuzz targets),
# Oclgrind (the kernels under a checker), the emojione PNGs test_pngdir reads, libcurl
# (the survey suites' HTTP client) and Chromium with its WebDriver (the survey page in a
# real browser).
[ "$mode" = test ] && packages+=(clang libclang-rt-14-dev oclgrind ruby-gemojione
  libcurl4-openssl-dev chromium chromium-driver)

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
build() { # build DIR [cmake options...] (a later -DCMAKE_BUILD_TYPE wins)
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

# test: every step is timed, and every build treats warnings as errors.
times=()
step() { # step NAME COMMAND...
  local name=$1 t0=$SECONDS; shift
  echo "setup: [$name]" >&2
  "$@"
  times+=("$(printf '%-16s %4ds' "$name" $((SECONDS - t0)))")
}
skips=()
run_ctest() { # run_ctest DIR: the suites; records those ctest reports as skipped
  local log="$1/ctest.log" rc
  ctest --test-dir "$1" --output-on-failure -j"$jobs" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  while read -r t; do skips+=("$1/$t"); done < <(sed -n 's/.*Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p' "$log")
  return "$rc"
}

if [ "$mode" = test ]; then
  t_all=$SECONDS
  step build build build -DGM_WERROR=ON
else
  build build
fi
case "$mode" in
  main)
    # the study end to end with a short budget; the report lands in runs/compare-*/
    exec ./build/genmoji compare --time 4m "$@"
    ;;
  test)
    # The plain build's suites; the same under AddressSanitizer + UBSan.
    step ctest run_ctest build
    step asan-build build build-asan -DGM_SANITIZE=ON -DGM_WERROR=ON \
      -DGM_POCL_CACHE_DIR="$PWD/build/pocl-cache"
    step asan-ctest run_ctest build-asan
    fuzz_build() {
      cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGM_FUZZ=ON -DGM_WERROR=ON \
        -DCMAKE_C_COMPILER=clang >/dev/null &&
        cmake --build build-fuzz -j"$jobs" --target fuzz_png fuzz_font fuzz_csv fuzz_safetensors
    }
    step fuzz-build fuzz_build
    # Each libFuzzer target 60 s from its committed corpus. Fuzzing runs on the clock, not to
    # completion, so it runs one target at a time beside the next three steps.
    fuzz_t0=$SECONDS
    FUZZ_JOBS=1 tests/fuzz/run.sh build-fuzz 60 >build-fuzz/fuzz.log 2>&1 &
    fuzz_pid=$!
    trap 'kill "$fuzz_pid" 2>/dev/null || true' EXIT
    # Release (-O3 finds other warnings, e.g. maybe-uninitialized) with gcc and with clang:
    # built (with the suites) but not run: what they can break is the build, and the suites
    # ran above.
    step release-gcc build build-release-gcc -DCMAKE_BUILD_TYPE=Release -DGM_WERROR=ON \
      -DCMAKE_C_COMPILER=gcc
    step release-clang build build-release-clang -DCMAKE_BUILD_TYPE=Release -DGM_WERROR=ON \
      -DCMAKE_C_COMPILER=clang
    # Kernels on Oclgrind's simulated device (out of bounds, data races, divergence).
    step oclgrind tests/oclgrind.sh build
    fuzz_wait() {
      local rc=0
      wait "$fuzz_pid" || rc=$?
      cat build-fuzz/fuzz.log
      return "$rc"
    }
    step fuzz-wait fuzz_wait
    trap - EXIT
    times+=("$(printf '%-16s %4ds' "(fuzz, beside)" $((SECONDS - fuzz_t0)))")
    echo "setup: step times:" >&2
    printf '  %s\n' "${times[@]}" >&2
    printf '  %-16s %4ds\n' total $((SECONDS - t_all)) >&2
    echo "setup: ${#skips[@]} test(s) skipped${skips[*]:+: ${skips[*]}}" >&2
    ;;
  build) ;;
  *)
    echo "usage: scripts/setup.sh main|test|build" >&2
    exit 2
    ;;
esac
