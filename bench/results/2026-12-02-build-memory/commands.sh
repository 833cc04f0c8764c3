#!/bin/bash
# The 10M build after the build-memory changes (BENCHMARKS.md "the ten-million build under
# 4 GiB"); OUT = the directory of bench/ten_million.sh's data (base.bvecs, query.bvecs,
# groundtruth.ivecs). The 100k A/B: bench/ab_build.sh 2 BEFORE AFTER.
set -euo pipefail
G=${GEODEX:-target/release/geodex}
D=${1:-bench/out/synth-sift-10m}
INDEX=$D/pq32c.gdx
/usr/bin/time -v -o build.time $G build --data $D/base.bvecs --out $INDEX --m 16 --quant pq8 \
    --pq-m 32 --links compressed --json --quiet > build.json
$G info --index $INDEX --json > info.json
SEARCH=(--index $INDEX --queries $D/query.bvecs --groundtruth $D/groundtruth.ivecs --quiet)
$G bench "${SEARCH[@]}" --ef 50,100 --rerank 50 --runs 2 > warm-rerank50.txt
/usr/bin/time -v -o cold.time $G bench "${SEARCH[@]}" --ef 100,200 --rerank 100 --runs 2 --cold > cold.txt
