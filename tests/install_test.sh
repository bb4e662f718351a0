#!/usr/bin/env bash
# Installs genmoji into a temporary prefix, builds the out-of-tree example plugin in
# docs/examples/hello against it (CMake package and pkg-config), and runs it through the
# installed `genmoji`: the install layout of issue 2 end to end.
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
echo "install test passed"
