#!/bin/bash
# The per-query PQ tables from component-major centroids (`ProductQuantizer::fill_rows`): BEFORE
# and AFTER binaries alternated, five rounds, on the indexes commands.sh built in WORKDIR — the
# PQ4 block walk (m 64, two-component sub-spaces) and the per-node PQ8 walk (m 32, four). Then
# the PQ8 block walk with the kernels lowered to AVX2 (GEODEX_ISA=avx2: the scalar block scan).
# BEFORE: aba67b9's binary; AFTER: 526b1fe's (the PQ8 block rows need it, see commands.sh).
# Raw output tables.txt beside this script (bench/walk_ab.py reads it; labels name the binary).
# Run from the repository root: commands-tables.sh BEFORE AFTER [WORKDIR]
set -e
BEFORE=$1 AFTER=$2 W=${3:-/tmp/lc}
D=${DATA:-../shared/data}
sift() { "$@" --queries $D/sift-debian/query.bvecs --groundtruth $D/sift-debian/groundtruth.ivecs --threads 1 --runs 1 --quiet; }
for r in 1 2 3 4 5; do
    for bin in BEFORE AFTER; do
        g=${!bin}
        echo "## $r sift-pq4-codes-$bin"; sift $g bench --index $W/sift-pq4.gdx --ef 48 --rerank 48 --link-codes | tail -1
        echo "## $r sift-pq8-nodes-$bin"; sift $g bench --index $W/sift-pq8.gdx --ef 40 --rerank 40 | tail -1
    done
    echo "## $r sift-pq8-codes-avx2"; GEODEX_ISA=avx2 sift $AFTER bench --index $W/sift-pq8.gdx --ef 40 --rerank 40 --link-codes | tail -1
    echo "## $r sift-pq8-codes-avx512"; sift $AFTER bench --index $W/sift-pq8.gdx --ef 40 --rerank 40 --link-codes | tail -1
done
