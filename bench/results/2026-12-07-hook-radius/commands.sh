#!/bin/bash
# What the epsilon rule's lean state (`stop::Radius`) costs at equal work: `hook_cost` runs the
# rule with an ε beyond EPSILON_MAX (a plain beam search of fixed ef's width through every
# Radius hook) beside fixed ef and the other rules' hooks and checks; the example fails unless
# all four return the same results with the same work. 25 interleaved rounds, one thread, a
# quiet machine. W: the models of bench/results/2026-12-07-ngt (learned by eaaf092 or later).
set -e
OUT=bench/results/2026-12-07-hook-radius W=${W:-/tmp/wcap} D=../shared/data
cargo build --release -q -p geodex-adaptive --example hook_cost
for s in minilm-words-20k-ngt3:minilm-words-20k:fvecs sift-debian-ngt:sift-debian:bvecs; do
    IFS=: read -r model set ext <<< "$s"
    echo "== $set"
    target/release/examples/hook_cost $W/$model.gdx $D/$set/query.$ext $W/$set-test-gt.ivecs \
        0.9,0.95,0.99 25
done > $OUT/hook-cost.txt
# The walk's sink as a struct with an always-inlined method instead of a closure (so that it
# inlines under a rule): BEFORE = b95a160, AFTER = the commit that made the change; 60 rounds on
# MiniLM, 30 on SIFT, beside a CI job, the capped models of bench/results/2026-12-07-ngt.
if [ -n "$BEFORE" ] && [ -n "$AFTER" ]; then
    . bench/stop_rounds.sh
    stop_ab 60 minilm-words-20k fvecs ngt3cap > $OUT/ab-offer-minilm-raw.txt
    stop_ab 30 sift-debian bvecs ngtcap > $OUT/ab-offer-sift-raw.txt
    stop_ab_summary $OUT/ab-offer-minilm-raw.txt > $OUT/ab-offer-minilm.txt
    stop_ab_summary $OUT/ab-offer-sift-raw.txt > $OUT/ab-offer-sift.txt
fi
