#!/usr/bin/env bash
# Before/after comparison of geodex binaries on the same index files, robust to a noisy machine:
# ROUNDS interleaved rounds (A, B, A, B, ...) of a single-threaded `geodex bench` on each data
# set, then the median QPS per (data set, ef, binary). Needs the index files of
# bench/geodex-sweep.sh (in $OUT, default bench/out/).
#
#   bench/ab.sh 8 32,128 /tmp/geodex-before /tmp/geodex-after
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${DATA:-$here/../shared/data}"
out="${OUT:-$here/bench/out}"
rounds=$1 efs=$2
shift 2
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
sweep() { # binary name index queries groundtruth
  "$1" bench --index "$3" --queries "$4" --groundtruth "$5" --k 10 --ef "$efs" --threads 1 \
    --runs 1 --quiet | awk -v b="$1" -v s="$2" 'NR > 1 { print b, s, $1, $3 }' >> "$raw"
}
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    sweep "$bin" sift-debian "$out/sift-debian.gdx" "$data/sift-debian/query.bvecs" "$data/sift-debian/groundtruth.ivecs"
    sweep "$bin" minilm-words-20k "$out/minilm-words-20k.gdx" "$data/minilm-words-20k/query.fvecs" "$data/minilm-words-20k/groundtruth.ivecs"
  done
done
python3 - "$raw" <<'PY'
import collections, statistics, sys
qps = collections.defaultdict(list)
for line in open(sys.argv[1]):
    binary, dataset, ef, q = line.split()
    qps[(dataset, int(ef), binary)].append(float(q))
print(f"{'data set':<18} {'ef':>4} {'median QPS':>11} {'rounds':>6}  binary")
for (dataset, ef, binary), v in sorted(qps.items()):
    print(f"{dataset:<18} {ef:>4} {statistics.median(v):>11,.0f} {len(v):>6}  {binary}")
PY
