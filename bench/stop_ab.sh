#!/usr/bin/env bash
# Before/after comparison of geodex binaries under one stopping rule, robust to a noisy machine:
# ROUNDS interleaved rounds (A, B, A, B, ...) of a single-threaded `geodex bench --stop RULE
# --target-recall TARGETS` on the indexes and test queries a `bench/adaptive.py --work WORK` run
# left behind (their stop models included), then the median QPS per (data set, target, binary)
# and the mean distance evaluations, which must agree across binaries unless the change meant to
# alter the rule's decisions.
#
#   bench/stop_ab.sh 8 adaef 0.9,0.95,0.99 /tmp/adef-1 /tmp/geodex-before /tmp/geodex-after
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${DATA:-$here/../shared/data}"
rounds=$1 rule=$2 targets=$3 work=$4
shift 4
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
run() { # binary name queries
  "$1" bench --index "$work/$2.gdx" --queries "$3" --groundtruth "$work/$2-test-gt.ivecs" --k 10 \
    --target-recall "$targets" --stop "$rule" --threads 1 --runs 1 --quiet |
    awk -v b="$1" -v s="$2" 'NR > 1 && $1 ~ /^[0-9]/ { print b, s, $1, $4, $5 }' >> "$raw"
}
for _ in $(seq "$rounds"); do
  for bin in "$@"; do
    run "$bin" sift-debian "$data/sift-debian/query.bvecs"
    run "$bin" minilm-words-20k "$data/minilm-words-20k/query.fvecs"
  done
done
python3 - "$raw" <<'PY'
import collections, statistics, sys
qps, work = collections.defaultdict(list), collections.defaultdict(set)
for line in open(sys.argv[1]):
    binary, dataset, target, q, distances = line.split()
    qps[(dataset, float(target), binary)].append(float(q))
    work[(dataset, float(target))].add(distances)
print(f"{'data set':<18} {'target':>6} {'median QPS':>11} {'rounds':>6}  binary")
for (dataset, target, binary), v in sorted(qps.items()):
    print(f"{dataset:<18} {target:>6} {statistics.median(v):>11,.0f} {len(v):>6}  {binary}")
for (dataset, target), d in sorted(work.items()):
    if len(d) > 1:
        print(f"note: {dataset} at {target}: mean distance evaluations differ between binaries: {sorted(d)}")
PY
