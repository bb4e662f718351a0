#!/usr/bin/env bash
# Installs genmoji into a temporary prefix, builds the out-of-tree example plugins in
# docs/examples/hello (a front-end) and docs/examples/palette (a model) against it (CMake
# package and pkg-config), and runs them through the installed `genmoji`: the install
# layout of issue 2 and the model plugin guide of issue 5 end to end, and `compare --models`
# with the out-of-tree model beside an in-tree one.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in bin/genmoji lib/libgenmoji.so include/genmoji/gm.h lib/pkgconfig/genmoji.pc \
         lib/cmake/genmoji/genmojiConfig.cmake lib/genmoji/plugins/gm_cli.so; do
  [ -e "$tmp/prefix/$f" ] || { echo "install lacks $f"; exit 1; }
done
# CMake package config.
cmake -S "$src/docs/examples/hello" -B "$tmp/hello" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/hello" >/dev/null
# pkg-config, by hand.
PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" cc -shared -fPIC -o "$tmp/gm_hello_pc.so" \
  "$src/docs/examples/hello/hello.c" $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs genmoji)
out=$("$tmp/prefix/bin/genmoji" --plugin-path "$tmp/hello" hello)
echo "$out"
case "$out" in hello\ from\ *) ;; *) echo "unexpected output"; exit 1 ;; esac
# The installed host lists only its own plugins plus the one we named, never the build tree's.
"$tmp/prefix/bin/genmoji" --plugin-path "$tmp/hello" plugins | tee "$tmp/plugins.txt"
grep -q "$tmp/prefix/lib/genmoji/plugins/gm_cli.so" "$tmp/plugins.txt"
if grep -q "$build/plugins" "$tmp/plugins.txt"; then echo "installed genmoji searched the build tree"; exit 1; fi
mkdir "$tmp/pc" && cp "$tmp/gm_hello_pc.so" "$tmp/pc/"
"$tmp/prefix/bin/genmoji" --plugin-path "$tmp/pc" hello

# The example model plugin: CMake package, pkg-config, and the variant without nll.
pc() { PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config "$@"; }
cmake -S "$src/docs/examples/palette" -B "$tmp/palette" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/palette" >/dev/null
mkdir "$tmp/palette_pc" "$tmp/palette_nonll"
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -o "$tmp/palette_pc/gm_palette.so" \
  "$src/docs/examples/palette/palette.c" $(pc --cflags --libs genmoji)
cc -std=c11 -Wall -Wextra -Werror -DPALETTE_NO_NLL -shared -fPIC \
  -o "$tmp/palette_nonll/gm_palette_nonll.so" "$src/docs/examples/palette/palette.c" \
  $(pc --cflags --libs genmoji)
gm() { "$tmp/prefix/bin/genmoji" "$@"; }
for dir in "$tmp/palette" "$tmp/palette_pc"; do
  gm --plugin-path "$dir" plugins >"$tmp/plugins.txt"
  grep -Eq '^model +palette ' "$tmp/plugins.txt" || { cat "$tmp/plugins.txt"; echo "palette not listed as a model from $dir"; exit 1; }
done
# Train, sample and evaluate it on a few dozen yellow faces.
data=(--subset faces --yellow)
gm --plugin-path "$tmp/palette" train --model palette --steps 3 --batch 8 "${data[@]}" \
  --out "$tmp/run" --quiet
[ -s "$tmp/run/last.safetensors" ] || { echo "train wrote no last.safetensors"; exit 1; }
[ "$(wc -l <"$tmp/run/metrics.jsonl")" -eq 3 ] || { echo "metrics.jsonl: want 3 lines"; exit 1; }
gm --plugin-path "$tmp/palette_pc" sample --checkpoint "$tmp/run/last.safetensors" --n 4 \
  --out "$tmp/s.png" --quiet
[ "$(head -c 8 "$tmp/s.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
  { echo "sample wrote no PNG"; exit 1; }
# eval --json's bits_per_dim: a number (cJSON writes NaN and Inf as null) in (lo, hi).
eval_bpd() { # lo hi eval-arguments...
  local lo=$1 hi=$2 bpd
  shift 2
  gm --plugin-path "$tmp/palette" eval "$@" "${data[@]}" --json | tee "$tmp/eval.json"
  bpd=$(sed -n 's/^[[:space:]]*"bits_per_dim":[[:space:]]*\([-+.0-9eE]*\),$/\1/p' "$tmp/eval.json")
  awk -v v="$bpd" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(v != "" && v + 0 > lo && v + 0 < hi) }' ||
    { echo "eval $*: bits_per_dim '$bpd' is not a number in ($lo, $hi)"; exit 1; }
}
# Trained: below the 4 bits/dim of a model that finds every level equally likely.
eval_bpd 0 4 --checkpoint "$tmp/run/last.safetensors"
# Untrained: a weights-only file made by hand (zero logits under the example's key)
# loads with --weights and scores 4 bits/dim, the unit's definition.
h='{"logits":{"dtype":"F32","shape":[3,16,32,32],"data_offsets":[0,196608]}}'
while [ $((${#h} % 8)) -ne 0 ]; do h="$h "; done
{ printf "$(printf '\\x%02x' $((${#h} & 255)) $((${#h} >> 8)) 0 0 0 0 0 0)"; printf '%s' "$h"
  head -c 196608 /dev/zero; } >"$tmp/zero.safetensors"
eval_bpd 3.9999 4.0001 --weights "$tmp/zero.safetensors" --model palette
# A model without nll: eval fails (exit 1, not 2: the usage was right), names the model
# and writes nothing. The variant shares palette's checkpoint keys, so --weights loads.
mkdir "$tmp/cwd" && cd "$tmp/cwd"
rc=0
gm --plugin-path "$tmp/palette_nonll" eval --weights "$tmp/run/last.safetensors" \
  --model palette_nonll "${data[@]}" --json >"$tmp/nonll.out" 2>"$tmp/nonll.err" || rc=$?
cat "$tmp/nonll.err"
[ "$rc" -eq 1 ] || { echo "eval without nll: exit $rc, want 1"; exit 1; }
grep -q "model 'palette_nonll' has no likelihood" "$tmp/nonll.err" ||
  { echo "eval without nll: the message does not name the model"; exit 1; }
[ ! -s "$tmp/nonll.out" ] && [ -z "$(ls -A "$tmp/cwd")" ] ||
  { echo "eval without nll wrote something"; exit 1; }
cd /
# The main job with an out-of-tree model beside an in-tree one: one column each, and a
# model without a likelihood gets "not available", not a failure.
tiny=(--size 8 --steps 2 --n 2 --timing-n 1 --heldout 0.25 --quiet --json
      --set pixelcnn.width=6 --set pixelcnn.layers=2 --set pixelcnn.kernel=3)
gm --plugin-path "$tmp/palette" --plugin-path "$tmp/palette_nonll" compare \
  --models pixelcnn,palette,palette_nonll "${tiny[@]}" "${data[@]}" --out "$tmp/cmp" \
  >"$tmp/cmp.json" 2>"$tmp/cmp.err" || { cat "$tmp/cmp.err"; echo "compare --models failed"; exit 1; }
for f in index.html report.md metrics.json pixelcnn/samples.png palette/samples.png \
         palette/last.safetensors palette_nonll/samples.png; do
  [ -s "$tmp/cmp/$f" ] || { echo "compare --models wrote no $f"; exit 1; }
done
flat=$(tr -d ' \t\n' <"$tmp/cmp.json")
for want in '"status":"complete"' '"palette":{"title":"Palette"' '"pixelcnn":{"title":"PixelCNN"' \
            '"palette_nonll":{"title":"Palette"' '"likelihood_kind":"none"' \
            '"note":"notavailable:themodelhasnolikelihood(nll)"'; do
  case "$flat" in *"$want"*) ;; *) echo "compare --models: metrics lack $want"; exit 1 ;; esac
done
grep -q "<th>Palette</th>" "$tmp/cmp/index.html" ||
  { echo "compare --models: index.html has no Palette column"; exit 1; }
grep -q "not available (no likelihood)" "$tmp/cmp/report.md" ||
  { echo "compare --models: report.md does not say the likelihood is not available"; exit 1; }
echo "install test passed"
