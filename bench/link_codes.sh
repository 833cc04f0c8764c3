#!/usr/bin/env bash
# The PQ4 walk on per-node codes against the same index walking per-list code blocks
# (`--link-codes`, the ten-million issue's item 3), beside the flat index of the same set: one
# search thread, the three rows of each set run back to back in one process shape.
#
#   bench/link_codes.sh ../shared/data/sift-debian l2 64 64 "64,96,128" "32,48,64" RESULTS/sift100k
#   bench/link_codes.sh ../shared/data/minilm-words-20k cosine 192 32 "32,48,64" "24,32,48" RESULTS/minilm20k
#
# Arguments: the set's directory (base, query, groundtruth files in TEXMEX format), the metric,
# the PQ4 sub-space count, the re-rank width, the PQ4 indexes' beam widths, the flat index's,
# and where results go (bench output, one file per index and walk).
set -euo pipefail
SET=$1 METRIC=$2 PQ_M=$3 RERANK=$4 CODE_EFS=$5 FLAT_EFS=$6 OUT=$7
GEODEX=${GEODEX:-target/release/geodex}
mkdir -p "$OUT"
BASE=$(ls "$SET"/base.*vecs)
QUERIES=$(ls "$SET"/query.*vecs)
"$GEODEX" build --data "$BASE" --metric "$METRIC" --out "$OUT/flat.gdx" --quiet
"$GEODEX" build --data "$BASE" --metric "$METRIC" --out "$OUT/pq4.gdx" --quant pq4 --pq-m "$PQ_M" --quiet
bench() { # name, index, extra search options
    "$GEODEX" bench --index "$OUT/$2.gdx" --queries "$QUERIES" --groundtruth "$SET/groundtruth.ivecs" \
        --threads 1 --runs 3 "${@:3}" > "$OUT/$1.txt"
}
bench flat flat --ef "$FLAT_EFS"
bench per-node pq4 --ef "$CODE_EFS" --rerank "$RERANK"
bench per-list pq4 --ef "$CODE_EFS" --rerank "$RERANK" --link-codes
"$GEODEX" info --index "$OUT/pq4.gdx" --json > "$OUT/pq4-info.json"
rm "$OUT/flat.gdx" "$OUT/pq4.gdx"
