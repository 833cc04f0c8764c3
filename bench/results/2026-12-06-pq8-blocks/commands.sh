#!/bin/bash
# Issue 20 item 3: the walk on PQ8 codes in per-list blocks (VBMI permutes) beside the PQ4 block
# walk, the walk on per-node PQ8 codes and the flat index, both shared sets. GEODEX is the binary,
# built from 526b1fe (the PQ8 blocks were removed in the commit after it: later binaries refuse
# `--link-codes` on a PQ8 index);
# bench/pq4_walk_setup.sh builds the PQ4 and flat indexes in WORKDIR, this script the PQ8 ones
# (m 32 on sift-debian, m 96 on minilm-words-20k: as many bytes per code as the PQ4 walk's
# m 64 and m 192 take twice over). Five interleaved rounds of one-thread benches, one run per
# process; ab.txt beside this script is the raw output, bench/walk_ab.py turns it into the table.
# Run from the repository root: bench/results/2026-12-06-pq8-blocks/commands.sh GEODEX [WORKDIR]
set -e
AFTER=$1 W=${2:-/tmp/lc}
. "$(dirname "$0")/../../pq4_walk_setup.sh"
$AFTER build --data $D/sift-debian/base.bvecs --metric l2 --out $W/sift-pq8.gdx --quant pq8 --pq-m 32 --quiet
$AFTER build --data $D/minilm-words-20k/base.fvecs --metric cosine --out $W/minilm-pq8.gdx --quant pq8 --pq-m 96 --quiet
for r in 1 2 3 4 5; do
    for ef in 40 48 56 64; do
        echo "## $r sift-pq8-codes"; sift $AFTER bench --index $W/sift-pq8.gdx --ef $ef --rerank $ef --link-codes | tail -1
    done
    for ef in 48 56 64; do
        echo "## $r sift-pq4-codes"; sift $AFTER bench --index $W/sift-pq4.gdx --ef $ef --rerank $ef --link-codes | tail -1
    done
    echo "## $r sift-pq8-nodes"; sift $AFTER bench --index $W/sift-pq8.gdx --ef 40 --rerank 40 | tail -1
    echo "## $r sift-flat"; sift $AFTER bench --index $W/sift-flat.gdx --ef 32,40,48,56,64 | tail -5
    echo "## $r minilm-pq8-codes"; minilm $AFTER bench --index $W/minilm-pq8.gdx --ef 32,48 --rerank 32 --link-codes | tail -2
    echo "## $r minilm-pq4-codes"; minilm $AFTER bench --index $W/minilm-pq4.gdx --ef 32,48 --rerank 32 --link-codes | tail -2
    echo "## $r minilm-pq8-nodes"; minilm $AFTER bench --index $W/minilm-pq8.gdx --ef 32 --rerank 32 | tail -1
    echo "## $r minilm-flat"; minilm $AFTER bench --index $W/minilm-flat.gdx --ef 24,32,40,48 | tail -4
done
