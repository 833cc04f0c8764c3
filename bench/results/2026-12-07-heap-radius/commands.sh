#!/bin/bash
# The epsilon rule without a top k of its own on an exact walk (stop.rs, HeapRadius), and the
# rule OR-ed with a learned stop, replayed on traces. Run from the repository root.
# W: the indexes and models of `bench/adaptive.py --holdout-seed 1 --seed 1 --rounds 1
# --rules patience,learned,gbdt,epsilon --gbdt-trees 32 --gbdt-rate 0.3 --work $W` and of
# `bench/work_cap.py --work $W --caps 0.95 --rules epsilon --rounds 1 --runs 1`, both run with
# BEFORE (SET.gdx, SET-cap0.95.gdx). BEFORE/AFTER: geodex binaries of the parent commit and
# of this one. One search thread, nothing else running.
set -e
OUT=bench/results/2026-12-07-heap-radius W=${W:-/tmp/wcap} D=${D:-../shared/data}
# 1. Fixed ef and the epsilon rule (budget 0.95), before and after, interleaved: 300 rounds on
# SIFT (the exact walk, where the rule now reads its radius off the result heap) and 100 on
# MiniLM (the byte walk, whose code path did not change: a control). Recall and work must be
# equal before and after (the same decisions); stop_ab_summary prints both.
. bench/stop_rounds.sh
stop_ab 300 sift-debian bvecs cap0.95 > $OUT/ab-sift-raw.txt
stop_ab 100 minilm-words-20k fvecs cap0.95 > $OUT/ab-minilm-raw.txt
stop_ab_summary $OUT/ab-sift-raw.txt > $OUT/ab-sift.txt
stop_ab_summary $OUT/ab-minilm-raw.txt > $OUT/ab-minilm.txt
# The same summary per block of 100 rounds (12 lines a round), to show the gain in each third.
for b in 0 1 2; do
    sed -n "$((b * 1200 + 1)),$((b * 1200 + 1200))p" $OUT/ab-sift-raw.txt > /tmp/ab-sift-block.txt
    echo "rounds $((b * 100 + 1))-$((b * 100 + 100))"
    stop_ab_summary /tmp/ab-sift-block.txt
done > $OUT/ab-sift-blocks.txt
# The same rounds as ratios to fixed ef at each target (issue 17's p99 target), against each of
# the two code-identical fixed-ef binaries.
for set in sift minilm; do
    for base in after before; do
        sed "s/^fixed-$base /fixed /" $OUT/ab-$set-raw.txt > /tmp/ab-$set-$base.txt
        stop_summary /tmp/ab-$set-$base.txt eps-before eps-after > $OUT/vs-fixed-$base-$set.txt
    done
done
# 2. The rule and a learned stop together, replayed on traces at the model's cap beam (the
# learning and the test queries' traces dumped by examples/stop_gain.rs).
mkdir -p /tmp/gain
for s in minilm-words-20k:fvecs sift-debian:bvecs; do
    IFS=: read -r set ext <<< "$s"
    STOP_GAIN_DUMP=/tmp/gain/$set cargo run --release -q -p geodex-adaptive --example stop_gain -- \
        $W/$set.gdx $W/$set-learn.$ext $W/$set-learn-gt.ivecs $D/$set/query.$ext \
        $W/$set-test-gt.ivecs 0.9,0.95,0.99 > $OUT/stop-gain-$set.txt
done
python3 bench/stop_gain_gbdt.py --radius /tmp/gain/minilm-words-20k /tmp/gain/sift-debian > $OUT/radius-replay.txt
