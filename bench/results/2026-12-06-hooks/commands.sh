#!/bin/bash
# Issue 17: what the adaptive path costs when it changes nothing, and the cheaper hooks.
# BEFORE = a release build of 44d9edf: geodex, and the hook_cost example of this commit
# copied into that tree (crates/geodex-adaptive/examples/; the runs here used a first version
# of it that took no GROUNDTRUTH and printed the median only: the same searches and timing).
# AFTER = this commit's. Indexes and stop models: learning set 1 of
# bench/results/2026-12-06-adaef-law/commands.sh (`bench/adaptive.py --holdout-seed 1 --seed 1
# --rounds 1 --rules patience,ada,adaef,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3
# --work /tmp/adef-law-1`), and the full-size SIFT build of that file (/tmp/adaptive-large).
# Run from the repository root.
set -e
OUT=bench/results/2026-12-06-hooks
BEFORE=${BEFORE:-/tmp/geodex-before-hooks} BEFORE_HOOKS=${BEFORE_HOOKS:-/tmp/hook_cost-before}
cargo build --release -q -p geodex-cli -p geodex-adaptive --example hook_cost
cp target/release/geodex /tmp/geodex-hooks
W=/tmp/adef-law-1
# The hooks' cost at equal work (fixed / hooks / checks), before and after, alternated twice.
for R in 1 2; do
    for SET in sift-debian:bvecs minilm-words-20k:fvecs; do
        N=${SET%%:*}; E=${SET##*:}
        for B in before after; do
            X=target/release/examples/hook_cost
            [ $B = before ] && X=$BEFORE_HOOKS
            $X $W/$N.gdx ../shared/data/$N/query.$E $W/$N-test-gt.ivecs 0.9,0.95,0.99 15 \
                > $OUT/hook-cost-${N%%-*}-$B-$R.txt
        done
    done
done
# Every rule's QPS before and after, 21 interleaved rounds, one search thread; the distance
# evaluations must agree (the script notes any difference).
for RULE in fixed patience ada adaef learned gbdt; do
    bench/stop_ab.sh 21 $RULE 0.9,0.95,0.99 $W $BEFORE /tmp/geodex-hooks > $OUT/ab-$RULE.txt
done
# SIFT at full size: every rule timed against fixed ef, each binary in turn.
for B in $BEFORE /tmp/geodex-hooks; do
    bench/stop_timed.sh 7 0.9,0.95,0.99 /tmp/adaptive-large/sift-max.gdx /tmp/data/sift-max/query.bvecs \
        /tmp/adaptive-large/sift-max-test-gt.ivecs $B > $OUT/timed-sift-323k-$(basename $B).txt
done
# forced-inline-sift.txt: before, a build with `#[inline(always)]` on the walk's per-neighbour
# closure in search.rs (/tmp/geodex-hooks-forced; not kept), and this commit's, alternated:
#   for RULE in fixed patience learned; do bench/stop_ab.sh 21 $RULE 0.9,0.95,0.99 $W $BEFORE \
#       /tmp/geodex-hooks-forced /tmp/geodex-hooks | grep -v minilm; done
