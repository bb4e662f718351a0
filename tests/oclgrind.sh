#!/usr/bin/env bash
# Runs test suites, and a tiny training step and every sampler of each model, on
# Oclgrind's simulated OpenCL device with its memory checker (always on) and data-race
# detector: any out-of-bounds access, data race, barrier divergence or other report
# Oclgrind makes fails the run, as does a failing or crashing suite or command.
#
#   tests/oclgrind.sh BUILD_DIR [SUITE... | models]   # default: the suites below and models
#
# Oclgrind ships no .icd: the `oclgrind` wrapper preloads its runtime, so the program sees
# one platform, "Oclgrind". Oclgrind has no option to change the exit status on a report,
# so each run's reports go to a log (--log) and a non-empty log is a failure. Not
# --uninitialized: it reports false errors on buffers written at an offset.
# Oclgrind's device says it is a GPU, so GEMMs run on CLBlast there; the model steps run
# a second time with GM_GEMM=own, for genmoji's own GEMM kernels and the implicit-GEMM
# convolutions (test_gemm runs both backends itself).
# Logs: BUILD_DIR/oclgrind/<run>.log (Oclgrind) and <run>.out (the program's output).
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [SUITE...]" >&2; exit 2; }
build=$(cd "$1" && pwd); shift
# Every op suite and the suites of what they are built from, with GM_TEST_SHAPES=small
# (the suites' small-shapes switch: the same kernels and paths on shapes the simulator
# runs in seconds to a minute), and the models. Slowest first, so the pool ends together.
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(models test_ops_conv test_ops_pixel test_gemm
  test_ops_attention test_convnet test_ops_diffusion test_ops_elementwise test_ops_embed
  test_ops_linear test_ops_loss test_ops_norm test_ops_shape test_ops_dropout test_ops_text
  test_tensor test_params test_optim test_rng)
jobs=${OCLGRIND_JOBS:-$(nproc 2>/dev/null || echo 2)}
command -v oclgrind >/dev/null || { echo "oclgrind: not installed (Debian package oclgrind)" >&2; exit 2; }
out="$build/oclgrind"; rm -rf "$out"; mkdir -p "$out"
export GM_PLUGIN_PATH="$build/plugins" CK_DEFAULT_TIMEOUT=600 GM_TEST_SHAPES=small
fail=0
check() { # check NAME COMMAND...: runs COMMAND under Oclgrind, logs to NAME.{log,out}
  local name=$1 t0 rc dt; shift
  t0=$(date +%s)
  oclgrind --data-races --log "$out/$name.log" "$@" >"$out/$name.out" 2>&1
  rc=$?
  dt=$(( $(date +%s) - t0 ))
  if [ "$rc" -ne 0 ] || [ -s "$out/$name.log" ]; then
    fail=1
    echo "oclgrind: $name FAILED (exit $rc, $(grep -c . "$out/$name.log" 2>/dev/null || echo 0) report lines, ${dt}s)" >&2
    head -40 "$out/$name.log" >&2
    tail -5 "$out/$name.out" >&2
    return 1
  fi
  echo "oclgrind: $name ok (${dt}s)$(grep -h "Checks:" "$out/$name.out" | tail -1 | sed 's/^/: /')"
}

# One optimiser step of each model on two 4x4 or 8x8 images, then every sampler on one
# image from that checkpoint: small networks, so the kernels of a whole training step
# and of sampling (the PixelCNN's caches, the U-Net's attention) run in about two minutes.
models() {
  local gm="$build/genmoji" run="$out/models" data=(--data noto --subset faces --limit 2)
  local pcnn=(--set width=6 --set layers=2 --set kernel=3 --set image_size=4)
  local unet=(--set ch=4 --set mult=1,2 --set blocks=1 --set attn=8,16 --set timesteps=4
              --set size=8)
  local step=(--steps 1 --batch 2 --quiet)
  mkdir -p "$run"
  for gemm in default own; do
    local env=(env) sfx=""
    [ "$gemm" = own ] && env=(env GM_GEMM=own) sfx=-own
    check "train-pixelcnn-gated$sfx" "${env[@]}" "$gm" train --model pixelcnn "${pcnn[@]}" \
      "${data[@]}" --size 4 "${step[@]}" --out "$run/pixelcnn-gated$sfx" || continue
    check "train-pixelcnn-seed$sfx" "${env[@]}" "$gm" train --model pixelcnn --preset seed \
      --set width=3 --set image_size=4 "${data[@]}" --size 4 "${step[@]}" \
      --out "$run/pixelcnn-seed$sfx" || continue
    check "train-ddpm-unet$sfx" "${env[@]}" "$gm" train --model ddpm "${unet[@]}" \
      "${data[@]}" --size 8 "${step[@]}" --out "$run/ddpm-unet$sfx" || continue
    [ "$gemm" = own ] && continue  # sampling once is enough: its GEMMs are the same
    local net s
    for net in pixelcnn-gated:cached pixelcnn-gated:naive pixelcnn-seed:cached \
               pixelcnn-seed:naive ddpm-unet:ddpm ddpm-unet:ddim; do
      s=${net#*:}; net=${net%:*}
      local steps=(); [ "$s" = ddim ] && steps=(--steps 2)
      check "sample-$net-$s" "$gm" sample --checkpoint "$run/$net/last.safetensors" --n 1 \
        --sampler "$s" "${steps[@]}" --out "$run/$net-$s.png"
    done
  done
}

# Each suite (or the model runs, one after another) is one job; OCLGRIND_JOBS at a time
# (default: the CPUs), since Oclgrind simulates on one thread. A job that fails leaves
# its name in $out/failed.
one() { # one SUITE|models
  fail=0
  if [ "$1" = models ]; then models; else check "$1" "$build/tests/$1"; fi
  [ "$fail" -eq 0 ] || echo "$1" >>"$out/failed"
}
running=0
for s in "${suites[@]}"; do
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  one "$s" &
  running=$((running + 1))
done
wait
if [ -s "$out/failed" ]; then
  echo "oclgrind: failed: $(tr '\n' ' ' <"$out/failed")" >&2
  exit 1
fi
exit 0
