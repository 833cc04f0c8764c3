#!/usr/bin/env bash
# Before/after build time and memory of geodex binaries, robust to a noisy machine: ROUNDS
# interleaved rounds (A, B, A, B, ...) of `geodex build --json` per configuration, then the
# median build_seconds and the median peak RSS (/usr/bin/time) per (configuration, binary). The
# configurations are the quantised builds whose cost is mostly codebook training (PQ8 on both
# shared sets), a PQ8 build with compressed links (the ten-million build's shape) and the flat
# build as reference.
#
#   bench/ab_build.sh 3 /tmp/geodex-before target/release/geodex
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${DATA:-$here/../shared/data}"
rounds=$1
shift
raw="$(mktemp)" out="$(mktemp -d)"
trap 'rm -rf "$raw" "$out"' EXIT
configs=(
  "sift-pq8-m32|--data $data/sift-debian/base.bvecs --quant pq8 --pq-m 32"
  "sift-pq4-m64|--data $data/sift-debian/base.bvecs --quant pq4 --pq-m 64"
  "minilm-pq8-m96|--data $data/minilm-words-20k/base.fvecs --metric cosine --quant pq8 --pq-m 96"
  "sift-pq8-compr|--data $data/sift-debian/base.bvecs --quant pq8 --pq-m 32 --links compressed"
  "sift-flat|--data $data/sift-debian/base.bvecs"
)
for _ in $(seq "$rounds"); do
  for config in "${configs[@]}"; do
    name="${config%%|*}" args="${config#*|}"
    for bin in "$@"; do
      # shellcheck disable=SC2086
      seconds=$(/usr/bin/time -f %M -o "$out/rss" "$bin" build $args --out "$out/index.gdx" --json --quiet |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["build_seconds"])')
      echo "$name $bin $seconds $(cat "$out/rss")" >> "$raw"
    done
  done
done
python3 - "$raw" <<'PY'
import collections, statistics, sys
secs, rss = collections.defaultdict(list), collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, binary, s, kib = line.split()
    secs[(name, binary)].append(float(s))
    rss[(name, binary)].append(int(kib) / 1024)
print(f"{'configuration':<16} {'median s':>9} {'peak MiB':>9} {'runs':>5}  all runs (s)  binary")
for (name, binary), v in sorted(secs.items()):
    runs = " ".join(f"{x:.1f}" for x in v)
    print(f"{name:<16} {statistics.median(v):>9.2f} {statistics.median(rss[(name, binary)]):>9.0f} {len(v):>5}  [{runs}]  {binary}")
PY
