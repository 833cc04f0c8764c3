#!/bin/bash
# Issue 17: NGT's ε-search as a stopping rule (`--stop epsilon`; ADAPTIVE.md, "A relative
# radius: the epsilon rule"). Run from the repository root; work and recall are deterministic
# for an index and model (the timing columns of the single-round files are single passes, not
# comparisons; timed.txt is the interleaved comparison).
set -e
OUT=bench/results/2026-12-07-epsilon
W=${W:-/tmp/wcap} W277=${W277:-/tmp/wcap-277k} D=${D:-/tmp/data}
cargo build --release -q -p geodex-cli
# Learning set 1 on both shared sets, every rule calibrated (the epsilon rule among them).
python3 bench/adaptive.py --holdout-seed 1 --seed 1 --rounds 1 --rules patience,learned,gbdt,epsilon \
    --gbdt-trees 32 --gbdt-rate 0.3 --work $W --out /tmp/eps-base | tee $OUT/adaptive-shared.txt
# Work at equal recall at beam factors 1.3 (the default), 2, 4 and the cap.
python3 bench/work_cap.py --work $W --caps '' --variant 'b2=--beam-factor 2.0' \
    --variant 'b4=--beam-factor 4.0' --variant 'bcap=--beam-factor 100' \
    --rules learned,gbdt,epsilon --rounds 1 --runs 1 --out /tmp/eps-beam | tee $OUT/beam-shared.txt
# The ε condition replayed on traces (a check every 4 evaluations): the plain ratio, and the
# ratio of ball volumes at the query's estimated LID (a per-query ε).
cargo build --release -q -p geodex-adaptive --example epsilon
for sc in ratio volume; do
    for s in minilm-words-20k:fvecs sift-debian:bvecs; do
        n=${s%%:*}
        echo "== $n $sc"
        target/release/examples/epsilon $W/$n.gdx ../shared/data/$n/query.${s##*:} \
            $W/$n-test-gt.ivecs 0.9,0.95,0.99 4 $sc
    done
done > $OUT/replay.txt
# Timed: five interleaved rounds, one search thread, the default beam and a work cap of 1.0
# (with the first commit's binary, before the rule's lean state; its work columns are the same).
python3 bench/work_cap.py --work $W --caps 1.0 --rules patience,learned,gbdt,epsilon --rounds 5 \
    --runs 1 --out /tmp/eps-timed | tee $OUT/timed.txt
# Full-size MiniLM (a ninth build), the same protocol.
python3 ../shared/data/make/make_minilm_words.py $D/minilm-277k --n-base 276446
python3 bench/adaptive.py --data $D --sets minilm-277k:cosine --holdout-seed 1 --seed 1 --rounds 1 \
    --rules patience,learned,gbdt,epsilon --gbdt-trees 32 --gbdt-rate 0.3 --work $W277 \
    --out /tmp/eps-277k | tee $OUT/adaptive-277k.txt
python3 bench/work_cap.py --work $W277 --data $D --sets minilm-277k:fvecs --caps '' \
    --variant 'b2=--beam-factor 2.0' --variant 'bcap=--beam-factor 100' \
    --rules learned,gbdt,epsilon --rounds 3 --runs 1 --out /tmp/eps-277k-beam | tee $OUT/beam-277k.txt
# Per-query latency at 277k (each query's fastest of 9 interleaved rounds).
cargo build --release -q -p geodex-adaptive --example tail_latency
target/release/examples/tail_latency $W277/minilm-277k.gdx $D/minilm-277k/query.fvecs \
    $W277/minilm-277k-test-gt.ivecs 0.95,0.99 learned,epsilon 9 > $OUT/tail-latency-277k.txt
# Five learning sets (one build each), every rule; the spread of each rule's work at equal recall.
for S in 1 2 3 4 5; do
    python3 bench/adaptive.py --out /tmp/epsp/holdout-$S --holdout-seed $S --seed $S --rounds 1 \
        --rules patience,ada,learned,gbdt,epsilon --gbdt-trees 32 --gbdt-rate 0.3 --work /tmp/epsp-w$S \
        > /tmp/epsp/holdout-$S.txt
done
python3 bench/adaptive_spread.py /tmp/epsp/holdout-{1,2,3,4,5} --learned learned,gbdt,epsilon \
    --controls patience,ada | tee $OUT/spread.txt
# The rule's lean state (Radius) against the same rule run through the Adaptive state (BEFORE:
# the binary of the commit that added the rule, AFTER: of the commit that added the lean state):
# same work, QPS in 60 rounds.
DATA=../shared/data bench/stop_ab.sh 60 epsilon 0.9,0.95,0.99 $W "$BEFORE" "$AFTER" | tee $OUT/radius-ab.txt
# Timed with the lean state: 25 interleaved rounds.
python3 bench/work_cap.py --work $W --caps '' --rules learned,gbdt,epsilon --rounds 25 --runs 1 \
    --out /tmp/eps-timed2 | tee $OUT/timed-lean.txt
