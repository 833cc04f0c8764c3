#!/bin/bash
# Issue 20 item 3 on a machine whose L3 (32 MiB) does not hold every index: the PQ4 walk on
# per-list code blocks beside the flat index, both shared sets (BENCHMARKS.md 2026-12-04, "the
# walk on codes where the caches are small"). GEODEX is the binary; the indexes are those of
# bench/pq4_walk_setup.sh; five interleaved rounds of one-thread benches, one run per process;
# ab.txt beside this script is the raw output, bench/walk_ab.py turns it into the table.
# Run from the repository root: bench/results/2026-12-04-walk-amd/commands.sh GEODEX [WORKDIR]
set -e
AFTER=$1 W=${2:-/tmp/lc}
. "$(dirname "$0")/../../pq4_walk_setup.sh"
for r in 1 2 3 4 5; do
    for ef in 48 56 64; do
        echo "## $r sift-codes"; sift $AFTER bench --index $W/sift-pq4.gdx --ef $ef --rerank $ef --link-codes | tail -1
    done
    echo "## $r sift-flat"; sift $AFTER bench --index $W/sift-flat.gdx --ef 32,40,48,56,64 | tail -5
    echo "## $r minilm-codes"; minilm $AFTER bench --index $W/minilm-pq4.gdx --ef 32,48 --rerank 32 --link-codes | tail -2
    echo "## $r minilm-flat"; minilm $AFTER bench --index $W/minilm-flat.gdx --ef 24,32,40,48 | tail -4
done
