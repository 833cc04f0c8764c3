#!/bin/bash
# Issue 17: Ada-ef itself (`--stop adaef`: the first distances scored against the closed-form law
# of the query's distances to the whole base) beside the Ada-ef-style control (`ada`), patience
# and the learned rules, over five learning sets (ADAPTIVE.md, "Ada-ef itself"). Each run holds
# out a seeded uniform draw of 2,000 base rows as learning queries (--holdout-seed S), builds the
# index on the rest, learns every rule with learn-stop's split seed S, runs each rule once on the
# test queries (work and recall are deterministic for an index) and sweeps fixed ef finely for the
# equal-recall comparison. Then the warm-up and quantile-step variants on learning set 1. Run from
# the repository root; needs numpy (bench/requirements.txt). About 2.5 minutes a run on 2 cores.
set -e
OUT=bench/results/2026-12-06-adaef
cargo build --release -q -p geodex-cli
for S in 1 2 3 4 5; do
    python3 bench/adaptive.py --out $OUT/holdout-$S --holdout-seed $S --seed $S --rounds 1 \
        --rules patience,ada,adaef,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 --work /tmp/adef-$S > $OUT/holdout-$S.txt
done
python3 bench/adaptive_spread.py $OUT/holdout-{1,2,3,4,5} --learned adaef,learned,gbdt --controls patience,ada \
    | tee $OUT/spread.txt
for V in "256 0.001" "64 0.005" "256 0.005"; do
    set -- $V
    python3 bench/adaptive.py --out $OUT/variants/warmup-$1-step-$2 --holdout-seed 1 --seed 1 --rounds 1 \
        --rules patience,ada,adaef,learned --gbdt-trees 0 --adaef-warmup $1 --adaef-quantile-step $2 \
        --work /tmp/adef-v > $OUT/variants/warmup-$1-step-$2.txt
done
# What the law costs per query (check-cost-*.txt): on learning set 1's indexes (kept with --work).
for SET in sift-debian:bvecs minilm-words-20k:fvecs; do
    N=${SET%%:*}; E=${SET##*:}
    cargo run --release -q -p geodex-adaptive --example check_cost -- /tmp/adef-1/$N.gdx \
        ../shared/data/$N/query.$E /tmp/adef-1/$N-test-gt.ivecs 0.95 > $OUT/check-cost-${N%%-*}.txt
done
# The 256-distance warm-up over the same five learning sets (new builds): warmup-256/, spread-warmup-256.txt.
for S in 1 2 3 4 5; do
    python3 bench/adaptive.py --out $OUT/warmup-256/holdout-$S --holdout-seed $S --seed $S --rounds 1 \
        --rules patience,ada,adaef,learned --gbdt-trees 0 --adaef-warmup 256 --work /tmp/adef-w-$S \
        > $OUT/warmup-256/holdout-$S.txt
done
python3 bench/adaptive_spread.py $OUT/warmup-256/holdout-{1,2,3,4,5} --learned adaef,learned --controls patience,ada \
    | tee $OUT/spread-warmup-256.txt
