#!/usr/bin/env bash
# Runs test suites on Oclgrind's simulated OpenCL device with its memory checker (always on)
# and data-race detector: any out-of-bounds access, data race, barrier divergence or other
# report Oclgrind makes fails the run, as does a failing or crashing suite.
#
#   tests/oclgrind.sh BUILD_DIR [SUITE...]      # default: the suites listed below
#
# Oclgrind ships no .icd: the `oclgrind` wrapper preloads its runtime, so the suite sees
# one platform, "Oclgrind". Oclgrind has no option to change the exit status on a report,
# so each suite's reports go to a log (--log) and a non-empty log is a failure. Not
# --uninitialized: it reports false errors on buffers written at an offset.
# Logs: BUILD_DIR/oclgrind/<suite>.log (Oclgrind) and <suite>.out (the suite's output).
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [SUITE...]" >&2; exit 2; }
build=$(cd "$1" && pwd); shift
# The suites whose shapes finish under the simulator in seconds (about 2 minutes in all
# on a 2-core CPU). test_ops_conv, test_ops_pixel, test_gemm, test_convnet and the model
# suites take 2 to over 10 minutes each there and are not in the list yet.
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(test_ops_attention test_ops_diffusion test_ops_elementwise
  test_ops_embed test_ops_linear test_ops_loss test_ops_norm test_ops_shape test_tensor
  test_params test_optim test_rng)
command -v oclgrind >/dev/null || { echo "oclgrind: not installed (Debian package oclgrind)" >&2; exit 2; }
out="$build/oclgrind"; rm -rf "$out"; mkdir -p "$out"
export GM_PLUGIN_PATH="$build/plugins" CK_DEFAULT_TIMEOUT=600
fail=0
for s in "${suites[@]}"; do
  t0=$(date +%s)
  oclgrind --data-races --log "$out/$s.log" "$build/tests/$s" >"$out/$s.out" 2>&1
  rc=$?
  dt=$(( $(date +%s) - t0 ))
  if [ "$rc" -ne 0 ] || [ -s "$out/$s.log" ]; then
    fail=1
    echo "oclgrind: $s FAILED (exit $rc, $(grep -c . "$out/$s.log" 2>/dev/null || echo 0) report lines, ${dt}s)" >&2
    head -40 "$out/$s.log" >&2
    tail -5 "$out/$s.out" >&2
  else
    echo "oclgrind: $s ok (${dt}s): $(grep -h "Checks:" "$out/$s.out" | tail -1)"
  fi
done
exit "$fail"
