#!/bin/bash
# Issue 17: the adaef rule's law on the distance crate's SIMD kernels (four axes per pass) instead
# of hand-written lanes. BEFORE = a release build of 6e330f3 (geodex and the check_cost example),
# AFTER = this commit's. Indexes and stop models: learning set 1 of
# bench/results/2026-12-06-adaef/commands.sh (`bench/adaptive.py --holdout-seed 1 --seed 1
# --rules patience,ada,adaef,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 --work /tmp/adef-1`).
# Run from the repository root.
set -e
OUT=bench/results/2026-12-06-adaef-simd
BEFORE=${BEFORE:-/tmp/geodex-before} BEFORE_COST=${BEFORE_COST:-/tmp/check_cost-before}
cargo build --release -q -p geodex-cli -p geodex-adaptive --example check_cost
cp target/release/geodex /tmp/geodex-after
# What the law and the warm-up's scoring cost per query against fixed ef's query time.
for T in 0.9 0.95; do
    for SET in sift-debian:bvecs minilm-words-20k:fvecs; do
        N=${SET%%:*}; E=${SET##*:}
        for B in before after; do
            X=target/release/examples/check_cost
            [ $B = before ] && X=$BEFORE_COST
            $X /tmp/adef-1/$N.gdx ../shared/data/$N/query.$E /tmp/adef-1/$N-test-gt.ivecs $T \
                > $OUT/check-cost-${N%%-*}-$T-$B.txt
        done
    done
done
# The rule's QPS, 8 interleaved rounds, one search thread (work must be identical).
bench/stop_ab.sh 8 adaef 0.9,0.95,0.99 /tmp/adef-1 $BEFORE /tmp/geodex-after > $OUT/ab.txt
