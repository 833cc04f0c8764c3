#!/usr/bin/env bash
# The largest real sets the shared data generators make (the ten-million issue, item 6):
# a flat index and a compressed one (PQ codes, compressed level-0 links, vectors re-ranked from
# the file) of the same set, built on all cores under /usr/bin/time -v, searched on one thread.
#
#   python3 ../shared/data/make/make_sift.py OUT/sift-max 1000000 42          # every photo: 323,300
#   python3 ../shared/data/make/make_minilm_words.py OUT/minilm-277k --n-base 276446
#   CODE_EFS=64,96,128,192 bench/largest_sets.sh OUT/sift-max l2 "--quant pq8 --pq-m 16" 64 RESULTS/sift
#   bench/largest_sets.sh OUT/minilm-277k cosine "--quant pq8 --pq-m 48" 40 RESULTS/minilm
#
# Arguments: the set's directory (base, query, groundtruth files in TEXMEX format), the metric,
# the quantiser options of the compressed index, its re-rank width, and where results go;
# CODE_EFS overrides the compressed index's beam widths.
set -euo pipefail
SET=$1 METRIC=$2 QUANT=$3 RERANK=$4 OUT=$5
GEODEX=${GEODEX:-target/release/geodex}
mkdir -p "$OUT"
BASE=$(ls "$SET"/base.*vecs)
QUERIES=$(ls "$SET"/query.*vecs)
build() { # name, extra build options
    /usr/bin/time -v -o "$OUT/$1-build.time" "$GEODEX" build --data "$BASE" --metric "$METRIC" \
        --out "$OUT/$1.gdx" --m 16 --json --quiet "${@:2}" > "$OUT/$1-build.json"
}
bench() { # name, extra search options
    "$GEODEX" bench --index "$OUT/$1.gdx" --queries "$QUERIES" --groundtruth "$SET/groundtruth.ivecs" \
        --runs 3 --quiet "${@:2}" > "$OUT/$1-bench.txt"
}
build flat
# shellcheck disable=SC2086 # the quantiser options are words
build compressed $QUANT --links compressed
bench flat --ef 16,24,32,48,64,96,128
bench compressed --ef "${CODE_EFS:-$RERANK,64,96,128}" --rerank "$RERANK"
rm "$OUT/flat.gdx" "$OUT/compressed.gdx"
