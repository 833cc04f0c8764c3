#!/bin/bash
# Issue 20 item 3: the per-list block walk scanning before the visited set (BENCHMARKS.md
# 2026-12-02, "the bound before the visited set"). BEFORE and AFTER are geodex binaries; the
# indexes are built once (PQ4 m 64 SIFT, m 192 MiniLM, and the flat ones), then five
# interleaved rounds of one-thread benches; ab.txt beside this script is the raw output.
set -e
BEFORE=$1 AFTER=$2 W=${3:-/tmp/lc}
. "$(dirname "$0")/../../pq4_walk_setup.sh"
for r in 1 2 3 4 5; do
    for bin in $BEFORE $AFTER; do
        echo "## $r $bin sift"; sift $bin bench --index $W/sift-pq4.gdx --ef 64,96 --rerank 64 --link-codes
        echo "## $r $bin minilm"; minilm $bin bench --index $W/minilm-pq4.gdx --ef 32,48 --rerank 32 --link-codes
    done
    echo "## $r flat sift"; sift $AFTER bench --index $W/sift-flat.gdx --ef 48,64
    echo "## $r flat minilm"; minilm $AFTER bench --index $W/minilm-flat.gdx --ef 32,48
done
