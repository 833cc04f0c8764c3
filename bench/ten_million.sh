#!/usr/bin/env bash
# Ten million SIFT-like vectors on one small machine (the ten-million issue, item 6;
# BENCHMARKS.md "ten million SIFT-like vectors").
#
#   bench/ten_million.sh [N] [OUT]        # N = 10000000, OUT = bench/out/synth-sift-10m
#
# 1. draws N byte vectors and 1,000 queries from bench/synth_sift.py's mixture fitted to
#    sift-debian (its docstring: why the mixture, and how its statistics match the real set);
# 2. exact 100-NN ground truth with `geodex groundtruth`;
# 3. builds on all cores with PQ codes (m 32) and compressed level-0 links, under
#    /usr/bin/time -v (wall time, peak RSS);
# 4. searches on one thread: warm sweeps over re-rank widths, then `--cold` (the file dropped
#    from the page cache, only the walk's sections loaded, vectors read per re-rank) under
#    /usr/bin/time -v for the search process's peak RSS;
# 5. the same graph walked on its full vectors (`--exact-walk`): the point at N that
#    `bench/scaling.py --prebuilt` adds to the §1.2 fits.
# Everything lands in OUT (*.json, *.time, *.txt). GEODEX and PYTHON override the programs.
set -euo pipefail
N=${1:-10000000}
OUT=${2:-bench/out/synth-sift-10m}
GEODEX=${GEODEX:-target/release/geodex}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
[ -f "$OUT/base.bvecs" ] || "$PY" bench/synth_sift.py --n "$N" --out "$OUT"
[ -f "$OUT/groundtruth.ivecs" ] || "$GEODEX" groundtruth --data "$OUT/base.bvecs" \
    --queries "$OUT/query.bvecs" --k 100 --metric l2 --out "$OUT/groundtruth.ivecs"
INDEX="$OUT/pq32c.gdx"
/usr/bin/time -v -o "$OUT/build.time" "$GEODEX" build --data "$OUT/base.bvecs" --out "$INDEX" \
    --m 16 --quant pq8 --pq-m 32 --links compressed --json --quiet > "$OUT/build.json"
"$GEODEX" info --index "$INDEX" --json > "$OUT/info.json"
SEARCH=(--index "$INDEX" --queries "$OUT/query.bvecs" --groundtruth "$OUT/groundtruth.ivecs" --quiet)
for R in 50 100 200; do
    "$GEODEX" bench "${SEARCH[@]}" --ef "$R,$((2 * R))" --rerank "$R" --runs 2 > "$OUT/warm-rerank$R.txt"
done
/usr/bin/time -v -o "$OUT/cold.time" "$GEODEX" bench "${SEARCH[@]}" --ef 100,200 --rerank 100 \
    --runs 2 --cold > "$OUT/cold.txt"
"$GEODEX" bench "${SEARCH[@]}" --exact-walk --ef 16,32,64,128 --runs 1 > "$OUT/exact-walk.txt"
