#!/usr/bin/env bash
# One run on a lent GPU machine (no internet): unpack the carried runtime .debs, register
# NVIDIA's OpenCL ICD, then list devices, run the test suites and the benchmarks on the
# GPU. Usage (from the repository root, with build-gpu/ and .debs/ carried):
#   bash scripts/gpu_check.sh [GM_DEVICE selector, default NVIDIA]
set -uo pipefail
root=$(pwd)
sel=${1:-NVIDIA}
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
tmp=$(mktemp -d)
for d in .debs/*.deb; do dpkg -x "$d" "$tmp/root"; done
export LD_LIBRARY_PATH="$tmp/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
mkdir -p "$tmp/icd"
echo "${GM_ICD_LIB:-libnvidia-opencl.so.1}" > "$tmp/icd/vendor.icd"
export OCL_ICD_VENDORS="$tmp/icd"
# The build was configured in /work/main; make its absolute paths valid here.
if [ "$root" != /work/main ] && [ ! -e /work/main ]; then mkdir -p /work && ln -s "$root" /work/main; fi
export GM_PLUGIN_PATH="$root/build-gpu/plugins"
export GM_DEVICE="$sel"
{
  echo "== uname: $(uname -a)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
  echo "== genmoji devices"
  ./build-gpu/genmoji devices
  ./build-gpu/genmoji devices --json > "$out/devices.json"
} 2>&1 | tee "$out/devices.txt"
# Test suites on the GPU (each opens the device GM_DEVICE names).
: > "$out/tests.txt"
for t in build-gpu/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  start=$(date +%s%N)
  if timeout 120 "$t" > "$out/$name.log" 2>&1; then status=PASS; else status="FAIL($?)"; fi
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%-28s %-10s %7d ms  %s\n' "$name" "$status" "$ms" \
    "$(grep -E '^[0-9]+%: Checks' "$out/$name.log" | tail -1)" | tee -a "$out/tests.txt"
done
timeout 240 ./build-gpu/genmoji bench ops --json --batch 8,64 > "$out/bench_ops.json" 2> "$out/bench_ops.err"
echo "bench ops: rc=$?" | tee -a "$out/tests.txt"
# Training throughput and sampling time of both models on carried data (the yellow Noto
# faces exported as PNGs, since the GPU machine has no fonts).
if [ -d gpu-data ]; then
  for mp in "pixelcnn seed 64" "pixelcnn gated 64" "ddpm seed 64" "ddpm unet 64"; do
    set -- $mp
    timeout 120 ./build-gpu/genmoji train --model "$1" --preset "$2" --data gpu-data --batch "$3" \
      --steps 40 --out "$out/train-$1-$2" --json --quiet > "$out/train-$1-$2.json" 2> "$out/train-$1-$2.err"
    echo "train $1 $2 batch $3: rc=$? $(cat "$out/train-$1-$2.json" | tr -d '\n' | head -c 400)" | tee -a "$out/tests.txt"
  done
  for smp in "pixelcnn seed cached" "pixelcnn seed naive" "pixelcnn gated cached" "ddpm seed ddpm" "ddpm unet ddim"; do
    set -- $smp
    timeout 120 ./build-gpu/genmoji sample --checkpoint "$out/train-$1-$2/last.safetensors" --n 16 \
      --sampler "$3" --seed 1 --out "$out/sample-$1-$2-$3.png" --json > "$out/sample-$1-$2-$3.json" 2>&1
    echo "sample $1 $2 $3 n=16: rc=$? $(cat "$out/sample-$1-$2-$3.json" | tr -d '\n' | head -c 400)" | tee -a "$out/tests.txt"
  done
fi
echo done
