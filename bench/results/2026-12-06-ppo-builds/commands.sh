#!/bin/bash
# Issue 17: the PPO rule on more builds. "Which rule wins, over five learning sets and two builds"
# (bench/results/2026-12-05-adaptive-spread) ran PPO in the second build of each learning set only;
# here each of the five uniform learning sets (--holdout-seed S) is built once more and every
# rule, PPO included, is learned and run on it. Work and recall are deterministic for an index and
# model; QPS is not compared (the runs shared the machine with a test run). Run from the
# repository root with a release build of this commit.
set -e
OUT=bench/results/2026-12-06-ppo-builds
SPREAD=bench/results/2026-12-05-adaptive-spread
cargo build --release -q -p geodex-cli
for S in 1 2 3 4 5; do
    python3 bench/adaptive.py --out $OUT/holdout-$S --holdout-seed $S --seed $S --rounds 1 \
        --rules patience,ada,adaef,learned,ppo,gbdt --gbdt-trees 32 --gbdt-rate 0.3 \
        --work /tmp/adppo-$S > $OUT/holdout-$S.txt
done
# PPO over two builds per learning set (this one and the 2026-12-05 second build), beside the others.
python3 bench/adaptive_spread.py $OUT/holdout-{1,2,3,4,5} $SPREAD/holdout-{1,2,3,4,5} \
    --learned adaef,learned,gbdt,ppo --controls patience,ada | tee $OUT/spread.txt
