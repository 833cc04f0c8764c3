#!/bin/bash
# Issue 20 item 3: the walk on codes starts loading the region of each node an expansion offers
# nearer than the best waiting candidate (BENCHMARKS.md 2026-12-04, "prefetching the likelier
# next node"). BEFORE and AFTER are geodex binaries; the indexes are those of
# bench/pq4_walk_setup.sh (built with AFTER); five interleaved rounds of one-thread benches,
# one run per process; ab.txt beside this script is the raw output.
# Run from the repository root: bench/results/2026-12-04-next-prefetch/commands.sh B A
set -e
BEFORE=$1 AFTER=$2 W=${3:-/tmp/lc}
. "$(dirname "$0")/../../pq4_walk_setup.sh"
for r in 1 2 3 4 5; do
    for bin in $BEFORE $AFTER; do
        for ef in 48 56 64; do
            echo "## $r $bin sift-codes"; sift $bin bench --index $W/sift-pq4.gdx --ef $ef --rerank $ef --link-codes | tail -1
        done
        echo "## $r $bin minilm-codes"; minilm $bin bench --index $W/minilm-pq4.gdx --ef 32,48 --rerank 32 --link-codes | tail -2
        echo "## $r $bin sift-flat"; sift $bin bench --index $W/sift-flat.gdx --ef 40,48,56,64 | tail -4
    done
done
