#!/bin/sh
# genmoji against PyTorch on this machine, in one go: `genmoji bench models --json` on the
# seed presets, then bench/torch_reference.py (the same two networks in PyTorch, timed the
# same way), joined into one table of training images/s and sampling seconds per image
# with their ratios. A benchmark, not a test: it needs Debian's python3-torch.
set -eu

usage() {
  cat <<'EOF'
Usage: bench/compare.sh [GENMOJI] [--seconds S] [--batch LIST] [--sample-batch LIST]
                        [--only train|sample] [--device SEL] [--threads N] [--out DIR]

Runs `GENMOJI bench models --json --preset seed` (GENMOJI: the genmoji executable,
default ./build/genmoji, then the build folder beside this script), then
`/usr/bin/python3 bench/torch_reference.py` (PYTHON overrides the interpreter), one after
the other so that they do not share the CPU, and prints:
  training: model, preset, batch, genmoji images/s, PyTorch images/s (both: the batch
    over the median step), genmoji/PyTorch (above 1: genmoji trains faster), and the
    same from the mean step (steps x batch / seconds), which other load on the machine
    drags down, PyTorch's more than genmoji's;
  sampling: each genmoji sampler against PyTorch's (the PixelCNN's naive full pass per
    pixel; the DDPM's ancestral T = 500): seconds per image of both (extrapolated from
    runs stopped part way, the same way on both sides), genmoji/PyTorch (below 1:
    genmoji is faster) and the speed-up PyTorch/genmoji.
Joined on (model, preset, batch) for training and (model, batch) for sampling.

Options (passed to both sides):
  --seconds S          time each row for about S seconds (default 3)
  --batch LIST         training batches (default 8,64)
  --sample-batch LIST  images per sampling run (default 1,16)
  --only WHAT          'train' or 'sample' rows only
  --device SEL         genmoji's OpenCL device
  --threads N          PyTorch's threads (default 2)
  --out DIR            also keep both JSON Lines outputs there (genmoji.jsonl, pytorch.jsonl)
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
genmoji=""
seconds=3 batch=8,64 sample_batch=1,16 only="" device="" threads=2 out=""

while [ $# -gt 0 ]; do
  case $1 in
  -h | --help) usage; exit 0 ;;
  --seconds | --batch | --sample-batch | --only | --device | --threads | --out)
    [ $# -ge 2 ] || { echo "compare.sh: $1 needs a value" >&2; exit 2; }
    case $1 in
    --seconds) seconds=$2 ;;
    --batch) batch=$2 ;;
    --sample-batch) sample_batch=$2 ;;
    --only) only=$2 ;;
    --device) device=$2 ;;
    --threads) threads=$2 ;;
    --out) out=$2 ;;
    esac
    shift 2 ;;
  -*) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  *)
    [ -z "$genmoji" ] || { echo "compare.sh: one genmoji executable, not '$1' too" >&2; exit 2; }
    genmoji=$1
    shift ;;
  esac
done

if [ -z "$genmoji" ]; then
  for g in ./build/genmoji "$here/../build/genmoji"; do
    if [ -x "$g" ]; then genmoji=$g; break; fi
  done
fi
if [ -z "$genmoji" ] || [ ! -x "$genmoji" ]; then
  echo "compare.sh: no genmoji executable (${genmoji:-none in ./build or $here/../build});" \
    "build it or give its path" >&2
  exit 2
fi
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "compare.sh: PyTorch is missing: '$python -c \"import torch\"' fails. Install" \
    "Debian's python3-torch, or set PYTHON to an interpreter that has torch." >&2
  exit 3
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
set -- --json --preset seed --seconds "$seconds" --batch "$batch" --sample-batch "$sample_batch"
[ -z "$only" ] || set -- "$@" --only "$only"
[ -z "$device" ] || set -- "$@" --device "$device"
tset="--seconds $seconds --batches $batch --sample-batches $sample_batch --threads $threads"
[ -z "$only" ] || tset="$tset --only $only"

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
echo "compare.sh: genmoji bench models ($genmoji) ..." >&2
"$genmoji" bench models "$@" >"$tmp/genmoji.jsonl" ||
  { echo "compare.sh: genmoji bench models failed" >&2; exit 1; }
echo "compare.sh: bench/torch_reference.py ..." >&2
# shellcheck disable=SC2086 # tset holds separate words
"$python" "$here/torch_reference.py" $tset >"$tmp/pytorch.jsonl" ||
  { echo "compare.sh: bench/torch_reference.py failed" >&2; exit 1; }
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
if [ -n "$out" ]; then
  mkdir -p "$out"
  cp "$tmp/genmoji.jsonl" "$tmp/pytorch.jsonl" "$out/"
fi

"$python" - "$tmp/genmoji.jsonl" "$tmp/pytorch.jsonl" "$load_before" "$load_after" <<'EOF'
import datetime
import json
import sys


def read(path):
    header, rows = {}, []
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if "header" in o:
                header = o["header"]
            else:
                rows.append(o)
    return header, rows


gh, grows = read(sys.argv[1])
th, trows = read(sys.argv[2])
dev = gh.get("device", {})
print(f"bench/compare.sh, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
      f"load average {sys.argv[3]} before, {sys.argv[4]} after")
print(f"genmoji {gh.get('genmoji', '?')} on {dev.get('name', '?')} ({dev.get('platform', '?')}, "
      f"driver {dev.get('driver_version', '?')}); gemm: {gh.get('gemm_backends', '?')}")
print(f"PyTorch {th.get('version', '?')}, {th.get('threads', '?')} threads; "
      f"about {gh.get('seconds', '?')} s per row")

train_t = {(r["model"], r["preset"], r["batch"]): r for r in trows if "sampler" not in r}
sample_t = {(r["model"], r["batch"]): r for r in trows if "sampler" in r}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


gtrain = [r for r in grows if "sampler" not in r]
if gtrain:
    print()
    print("training, images/s (batch / median step)")
    print(f"{'model':<10} {'preset':<8} {'batch':>5} {'genmoji':>9} {'PyTorch':>9} "
          f"{'genmoji/PyTorch':>16}   {'mean: genmoji':>13} {'PyTorch':>9} {'ratio':>6}")
    for r in gtrain:
        t = train_t.get((r["model"], r["preset"], r["batch"]))
        g, gm = r["train_images_per_s"], r.get("mean_images_per_s")
        p = t["train_images_per_s"] if t else None
        pm = t.get("mean_images_per_s") if t else None
        print(f"{r['model']:<10} {r['preset']:<8} {r['batch']:>5} {g:>9.2f} {fmt(p, '9.2f'):>9} "
              f"{fmt(g / p if p else None, '16.2f'):>16}   {fmt(gm, '13.2f'):>13} "
              f"{fmt(pm, '9.2f'):>9} {fmt(gm / pm if gm and pm else None, '6.2f'):>6}")

gsample = [r for r in grows if "sampler" in r]
if gsample:
    print()
    print("sampling, seconds per image (extrapolated from runs stopped part way; "
          "timed units a..b in brackets)")
    print(f"{'model':<10} {'genmoji':<8} {'batch':>5} {'genmoji s':>10} {'PyTorch':<8} "
          f"{'PyTorch s':>10} {'genmoji/PyTorch':>16} {'speed-up':>9}")
    for r in gsample:
        t = sample_t.get((r["model"], r["batch"]))
        g = r["seconds_per_image"]
        p = t["seconds_per_image"] if t else None
        units = "[%d..%d]" % tuple(r["timed_units"])
        tunits = "[%d..%d]" % tuple(t["timed_units"]) if t else ""
        print(f"{r['model']:<10} {r['sampler']:<8} {r['batch']:>5} {g:>10.4g} "
              f"{(t['sampler'] if t else '-'):<8} {fmt(p, '10.4g'):>10} "
              f"{fmt(g / p if p else None, '16.3g'):>16} {fmt(p / g if p else None, '8.3g'):>8}x"
              f"  {units} {tunits}")
EOF
