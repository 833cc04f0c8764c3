#!/bin/bash
# Issue 17, "a richer state", last candidate: a descriptor of the graph region around the best
# result at each check (bench/stop_gain_gbdt.py's "+region" arms: the best result's
# 10th-neighbour distance ÷ the base's median, and the query's distance to it ÷ that). The
# stop-gain replay of ../2026-12-02-stop-gain on traces that carry the best result's key, then
# every base row's 11 nearest neighbours by the same index, then the replay with the query and
# region features. Usage: commands.sh WORK (from the repository root).
set -e
W=${1:?work directory}
G=${G:-target/release/geodex}
DATA=${DATA:-../shared/data}
OUT=$(dirname "$0")
OUT=$OUT "$OUT/../2026-12-02-stop-gain/commands.sh" "$W"
for set in "sift-debian bvecs" "minilm-words-20k fvecs"; do
    read -r name ext <<< "$set"
    $G search --index "$W/$name.gdx" --queries "$W/$name-base.$ext" --k 11 --ef 100 --threads 1 \
        --out "$W/$name-knn.ivecs" --quiet
done
python3 bench/stop_gain_gbdt.py "$W/sift-debian=$DATA/sift-debian/query.bvecs=l2" \
    "$W/minilm-words-20k=$DATA/minilm-words-20k/query.fvecs=cosine" | tee "$OUT/region.txt"
