#!/bin/bash
# Issue 20 item 3: the per-list block walk with the lanes' ids beside the blocks, blocks for the
# upper levels, an integer bound, the AVX-512 block kernel and the per-query table made in
# SIMD (BENCHMARKS.md 2026-12-04, "the walk on codes at 0.8x"). BEFORE and AFTER are geodex
# binaries; the indexes are built once with AFTER (PQ4 m 64 SIFT, m 192 MiniLM, and the flat
# ones), then five interleaved rounds of one-thread benches; ab.txt beside this script is the
# raw output. Run from the repository root: bench/results/2026-12-04-link-walk/commands.sh B A
set -e
BEFORE=$1 AFTER=$2 W=${3:-/tmp/lc}
. "$(dirname "$0")/../../pq4_walk_setup.sh"
for r in 1 2 3 4 5; do
    for bin in $BEFORE $AFTER; do
        for ef in 48 56 64 80; do
            echo "## $r $bin sift"; sift $bin bench --index $W/sift-pq4.gdx --ef $ef --rerank $ef --link-codes
        done
        echo "## $r $bin minilm"; minilm $bin bench --index $W/minilm-pq4.gdx --ef 32,48 --rerank 32 --link-codes
    done
    echo "## $r flat sift"; sift $AFTER bench --index $W/sift-flat.gdx --ef 32,40,48,56,64,72
    echo "## $r flat minilm"; minilm $AFTER bench --index $W/minilm-flat.gdx --ef 24,32,40,48
done
