#!/usr/bin/env bash
# Checks what the built libraries export (nm -D): libgenmoji only the public gm_ API
# (GM_API in engine/include/genmoji/*.h) and no internal gm__ function; every plugin
# module only gm_plugin_entry. Any other exported symbol is listed and fails the check.
#
#   tests/check_exports.sh LIBGENMOJI.so PLUGIN_DIR
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 LIBGENMOJI.so PLUGIN_DIR" >&2; exit 2; }
lib=$1 plugins=$2
fail=0
defined() { nm -D --defined-only "$1" | awk '{print $NF}' | sort -u; }
bad=$(defined "$lib" | grep -v '^gm_[a-z0-9]' || true)
internal=$(defined "$lib" | grep '^gm__' || true)
n=$(defined "$lib" | grep -c . || true)
if [ -n "$bad$internal" ]; then
  echo "check_exports: $lib exports what is not public API:" >&2
  printf '  %s\n' $bad $internal >&2
  fail=1
else
  echo "check_exports: $lib exports $n symbols, all public gm_ API"
fi
shopt -s nullglob
mods=("$plugins"/*.so)
[ ${#mods[@]} -gt 0 ] || { echo "check_exports: no plugin modules in $plugins" >&2; exit 1; }
for m in "${mods[@]}"; do
  extra=$(defined "$m" | grep -vx 'gm_plugin_entry' || true)
  if [ -n "$extra" ]; then
    echo "check_exports: $m exports more than gm_plugin_entry:" >&2
    printf '  %s\n' $extra >&2
    fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "check_exports: ${#mods[@]} plugin modules export only gm_plugin_entry"
exit "$fail"
