#!/bin/bash
# The same comparison as commands.sh on the full SIFT photo set (323,300 vectors; its flat index,
# 88 MB, is past the 32 MiB L3): PQ4 m 64 per-list blocks against the flat index, five
# interleaved rounds, one thread, one run per process; raw output ab-323k.txt.
#   python3 ../shared/data/make/make_sift.py SETS/sift-max 1000000 42 --jobs 2
#   bench/results/2026-12-04-walk-amd/commands-323k.sh GEODEX SETS/sift-max [WORKDIR]
set -e
G=$1 S=$2 W=${3:-/tmp/lc}
mkdir -p "$W"
$G build --data $S/base.bvecs --metric l2 --out $W/sift323k-pq4.gdx --quant pq4 --pq-m 64 --quiet
$G build --data $S/base.bvecs --metric l2 --out $W/sift323k-flat.gdx --quiet
sift() { "$@" --queries $S/query.bvecs --groundtruth $S/groundtruth.ivecs --threads 1 --runs 1 --quiet; }
for r in 1 2 3 4 5; do
    for ef in 64 80 96 128; do
        echo "## $r sift-codes"; sift $G bench --index $W/sift323k-pq4.gdx --ef $ef --rerank $ef --link-codes | tail -1
    done
    echo "## $r sift-flat"; sift $G bench --index $W/sift323k-flat.gdx --ef 32,48,64,80,96,128 | tail -6
done
