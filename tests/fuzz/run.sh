#!/usr/bin/env bash
# Runs libFuzzer targets from their committed corpus for a fixed time each; any crash,
# leak, out-of-memory or timeout makes the script fail (libFuzzer exits non-zero and
# leaves the input as an artifact).
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]     # default: every target, 2 at a time
#
# BUILD_DIR is a -DGM_FUZZ=ON clang build. The committed corpus (tests/fuzz/corpus/<target>/)
# is only read: new inputs go to BUILD_DIR/fuzz-runs/<target>/corpus/, the log and any
# crash-*/leak-*/timeout-* artifact to BUILD_DIR/fuzz-runs/<target>/. Env FUZZ_JOBS sets how
# many targets run at once (default 2), FUZZ_ARGS adds libFuzzer options.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2; exit 2; }
build=$(cd "$1" && pwd); secs=$2; shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_png fuzz_font fuzz_csv fuzz_safetensors)
jobs=${FUZZ_JOBS:-2}

run_one() { # run_one TARGET: exit status of libFuzzer
  local t=$1 bin="$build/tests/fuzz/$1" out="$build/fuzz-runs/$1" dict=()
  [ -x "$bin" ] || { echo "fuzz: $bin is not built (-DGM_FUZZ=ON with clang)" >&2; return 2; }
  [ -f "$here/${t#fuzz_}.dict" ] && dict=(-dict="$here/${t#fuzz_}.dict")
  rm -rf "$out"; mkdir -p "$out/corpus"
  # -timeout: one input may take 10 s at most (the slowest seed takes well under 1 s);
  # -rss_limit_mb: the parsers bound their allocations far below 2 GiB.
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/" "${dict[@]}" ${FUZZ_ARGS:-} "$out/corpus" "$here/corpus/$t" \
    >"$out/log" 2>&1
}

pids=(); names=(); fail=0
finish() { # waits for the oldest running target and reports it
  local pid=${pids[0]} t=${names[0]} rc
  wait "$pid"; rc=$?
  pids=("${pids[@]:1}"); names=("${names[@]:1}")
  local stats
  stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$build/fuzz-runs/$t/log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t ok, ${secs}s: ${stats:-no DONE line}"
  else
    fail=1
    echo "fuzz: $t FAILED (exit $rc); log and artifact in $build/fuzz-runs/$t/" >&2
    grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$build/fuzz-runs/$t/log" | head -20 >&2
  fi
}
for t in "${targets[@]}"; do
  [ ${#pids[@]} -ge "$jobs" ] && finish
  run_one "$t" & pids+=($!); names+=("$t")
done
while [ ${#pids[@]} -gt 0 ]; do finish; done
exit "$fail"
