#!/bin/bash
# Issue 20 item 3: when the PQ4 block walk starts loading the region of the node it will expand
# next. BASE is a release binary of 4f49200; EXP the same commit with defer.patch (beside this
# script) applied, which reads GEODEX_PF: 0 = as BASE (the best waiting candidate at the start
# of an expansion, and every nearer offer as it enters the queue), 1 = the waiting candidate at
# the start and only the nearest offer, after the list is scanned, 2 = one region per
# expansion, after the scan (the nearest offer, else the waiting candidate). Five interleaved
# rounds on SIFT (m 64, rerank = ef) and the flat index, one thread, one run per process, on the
# indexes bench/pq4_walk_setup.sh builds in WORKDIR; raw output ab.txt beside this script,
# table by `python3 bench/walk_ab.py ab.txt`.
# Run from the repository root: commands.sh BASE EXP [WORKDIR]
set -e
BASE=$1 EXP=$2 W=${3:-/tmp/lc}
D=${DATA:-../shared/data}
sift() { "$@" --queries $D/sift-debian/query.bvecs --groundtruth $D/sift-debian/groundtruth.ivecs --threads 1 --runs 1 --quiet; }
for r in 1 2 3 4 5; do
    for ef in 48 56 64; do
        echo "## $r sift-head-codes"; sift $BASE bench --index $W/sift-pq4.gdx --ef $ef --rerank $ef --link-codes | tail -1
        for m in 0 1 2; do
            echo "## $r sift-pf$m-codes"; GEODEX_PF=$m sift $EXP bench --index $W/sift-pq4.gdx --ef $ef --rerank $ef --link-codes | tail -1
        done
    done
    echo "## $r sift-flat"; sift $BASE bench --index $W/sift-flat.gdx --ef 32,40,48,56,64 | tail -5
done
