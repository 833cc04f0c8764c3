#!/usr/bin/env bash
# QPS and latency of every stopping rule on one index, robust to a noisy machine: ROUNDS
# interleaved rounds of a single-threaded `geodex bench --stop RULE --target-recall TARGETS` per
# rule, then the median QPS, p50 and p99 latency per (target, rule), and each ÷ fixed ef's.
#
# RUNS (environment, default 1): timed passes per process, the fastest reported.
#
#   bench/stop_timed.sh 5 0.9,0.95,0.99 INDEX QUERIES GROUNDTRUTH [GEODEX] [RULES]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
rounds=$1 targets=$2 index=$3 queries=$4 truth=$5
geodex=${6:-$here/target/release/geodex}
rules=${7:-fixed,patience,ada,adaef,learned,gbdt}
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
for _ in $(seq "$rounds"); do
  for rule in ${rules//,/ }; do
    "$geodex" bench --index "$index" --queries "$queries" --groundtruth "$truth" --k 10 \
      --target-recall "$targets" --stop "$rule" --threads 1 --runs "${RUNS:-1}" --quiet |
      awk -v r="$rule" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 ~ /^[0-9]/ { print r, $1, $col["recall"], $col["qps"], $col["mean_distances"], $col["p50_us"], $col["p99_us"] }' >> "$raw"
  done
done
python3 - "$raw" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    rule, target, recall, qps, dist, p50, p99 = line.split()
    runs[(float(target), rule)].append((float(recall), float(qps), float(dist), float(p50), float(p99)))
def med(v, i):
    return statistics.median(x[i] for x in v)
print(f"{'target':>6} {'rule':>9} {'recall':>7} {'dist':>7} {'QPS':>7} {'p50 µs':>7} {'p99 µs':>7} {'QPS/fixed':>9} {'p99/fixed':>9}  rounds")
for (target, rule), v in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][1] != "fixed")):
    fixed = runs.get((target, "fixed"))
    qr = f"{med(v, 1) / med(fixed, 1):>9.3f}" if fixed else f"{'—':>9}"
    pr = f"{med(v, 4) / med(fixed, 4):>9.3f}" if fixed else f"{'—':>9}"
    print(f"{target:>6} {rule:>9} {med(v, 0):>7.4f} {med(v, 2):>7.0f} {med(v, 1):>7.0f} {med(v, 3):>7.1f} {med(v, 4):>7.1f} {qr} {pr}  {len(v)}")
PY
