#!/usr/bin/env bash
# Interleaved comparison of index files under one geodex binary — e.g. the same graph with fixed
# and with compressed level-0 links — robust to a noisy machine: ROUNDS rounds of a
# single-threaded `geodex bench` on each file in turn (A, B, A, B, ...), then the median QPS and
# the recall per (file, ef).
#
#   bench/ab_files.sh 8 16,32,64 target/release/geodex QUERIES GROUNDTRUTH A.gdx B.gdx [-- BENCH-ARGS]
#
# Extra `geodex bench` arguments after `--` (e.g. `--rerank 64`) apply to every file.
set -euo pipefail
rounds=$1 efs=$2 bin=$3 queries=$4 truth=$5
shift 5
files=()
while (($#)) && [[ $1 != -- ]]; do
  files+=("$1")
  shift
done
[[ ${1:-} == -- ]] && shift
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
for _ in $(seq "$rounds"); do
  for f in "${files[@]}"; do
    "$bin" bench --index "$f" --queries "$queries" --groundtruth "$truth" --k 10 --ef "$efs" \
      --threads 1 --runs 1 --quiet "$@" | awk -v f="$f" 'NR > 1 { print f, $1, $2, $3, $4 }' >> "$raw"
  done
done
python3 - "$raw" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    path, ef, recall, qps, dists = line.split()
    runs[(int(ef), path)].append((float(qps), float(recall), float(dists)))
print(f"{'ef':>4} {'recall':>7} {'median QPS':>11} {'distances':>9} {'rounds':>6}  index")
for (ef, path), v in sorted(runs.items()):
    qps = statistics.median(q for q, _, _ in v)
    print(f"{ef:>4} {v[0][1]:>7.4f} {qps:>11,.0f} {v[0][2]:>9.1f} {len(v):>6}  {path}")
PY
