#!/bin/bash
# Issue 17, the p99 target: a work budget for the patience and score rules (`learn-stop
# --work-cap F`), and where the adaptive path's latency goes (ADAPTIVE.md, "A work budget for
# the tail"). Run from the repository root; one search thread; nothing else running for the
# timed steps (work and recall are deterministic for an index and model).
set -e
OUT=bench/results/2026-12-07-work-cap
W=${W:-/tmp/wcap} W277=${W277:-/tmp/wcap-277k} D=${D:-/tmp/data}
cargo build --release -q -p geodex-cli -p geodex-adaptive --example tail_latency
TAIL=target/release/examples/tail_latency
# Indexes and models without a budget: learning set 1 of the five-set runs (a seeded uniform
# draw of 2,000 base rows held out on both shared sets).
python3 bench/adaptive.py --holdout-seed 1 --seed 1 --rounds 1 --rules patience,learned,gbdt \
    --gbdt-trees 32 --gbdt-rate 0.3 --work $W --out /tmp/wcap-base | tee $OUT/adaptive-base.txt
# The same models learned again with --work-cap 1.0 and 0.9; work at equal recall (a fine
# fixed-ef sweep) and `geodex bench` timings, 15 interleaved rounds of the fastest of 5 passes.
python3 bench/work_cap.py --work $W --caps 1.0,0.9 --out /tmp/wcap-out
cp /tmp/wcap-out/minilm-words-20k.txt $OUT/work-cap-minilm-20k.txt
cp /tmp/wcap-out/sift-debian.txt $OUT/work-cap-sift.txt
# Per-query latency with the noise taken out (each query's fastest of 9 interleaved rounds).
for s in sift-debian:bvecs minilm-words-20k:fvecs; do
    n=${s%%:*} e=${s##*:}
    for m in "" -cap1.0 -cap0.9; do
        echo "== $n$m"
        $TAIL $W/$n$m.gdx ../shared/data/$n/query.$e $W/$n-test-gt.ivecs 0.9,0.95,0.99 patience,learned,gbdt 9
    done
done | tee $OUT/tail-latency-20k-100k.txt
# (tail-latency-20k-100k.txt was printed by a first version of the example without the ns/dist
# column and the wide variants: the same searches and timing.)
# The adaptive path taken apart: fixed ef at the learned rule's beam (wide), the same with every
# hook and check (wide-checks), and the rule itself.
$TAIL $W/sift-debian.gdx ../shared/data/sift-debian/query.bvecs $W/sift-debian-test-gt.ivecs \
    0.9,0.95,0.99 learned,wide,wide-checks 9 | tee $OUT/decomposition-sift.txt
$TAIL $W/minilm-words-20k.gdx ../shared/data/minilm-words-20k/query.fvecs \
    $W/minilm-words-20k-test-gt.ivecs 0.9,0.95,0.99 learned,wide,wide-checks 9 |
    tee $OUT/decomposition-minilm-20k.txt
# Full-size MiniLM (276,446 words), the same protocol.
python3 ../shared/data/make/make_minilm_words.py $D/minilm-277k --n-base 276446
python3 bench/adaptive.py --data $D --sets minilm-277k:cosine --holdout-seed 1 --seed 1 --rounds 1 \
    --rules patience,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 --work $W277 --out /tmp/wcap-277k-base |
    tee $OUT/adaptive-base-277k.txt
python3 bench/work_cap.py --work $W277 --data $D --sets minilm-277k:fvecs --caps 1.0,0.9 --out /tmp/wcap-277k-out
cp /tmp/wcap-277k-out/minilm-277k.txt $OUT/work-cap-minilm-277k.txt
for m in "" -cap1.0 -cap0.9; do
    echo "== minilm-277k$m"
    $TAIL $W277/minilm-277k$m.gdx $D/minilm-277k/query.fvecs $W277/minilm-277k-test-gt.ivecs \
        0.9,0.95,0.99 patience,learned,gbdt,wide,wide-checks 9
done | tee $OUT/tail-latency-277k.txt
# The cap-1.0 model timed twice more at 0.95 and 0.99 (the run-to-run spread of the p99):
for rep in 1 2; do
    $TAIL $W277/minilm-277k-cap1.0.gdx $D/minilm-277k/query.fvecs $W277/minilm-277k-test-gt.ivecs \
        0.95,0.99 learned,gbdt 9
done | tee $OUT/tail-latency-277k-cap1.0-repeats.txt
# With no budget the rules must search as before: BEFORE = a release build of e59280e, AFTER =
# this commit's; 21 interleaved rounds each (distance counts agree; QPS within the noise).
# ab-first-*.txt: the first version, which tested the budget at every expansion of every rule.
for RULE in learned gbdt; do
    bench/stop_ab.sh 21 $RULE 0.9,0.95,0.99 $W ${BEFORE:-/tmp/geodex-before-wcap} target/release/geodex \
        > $OUT/ab-$RULE.txt
done
# A narrower beam allowance with the budget: the cap-1.0 model learned again with
# --beam-factor 1.15 (instead of 1.3), timed beside the cap-1.0 model in one go.
target/release/geodex learn-stop --index $W277/minilm-277k.gdx --queries $W277/minilm-277k-learn.fvecs \
    --groundtruth $W277/minilm-277k-learn-gt.ivecs --target-recall 0.9,0.95,0.99 --gbdt-trees 32 \
    --gbdt-rate 0.3 --adaef-axes 32 --seed 1 --work-cap 1.0 --beam-factor 1.15 \
    --out $W277/minilm-277k-cap1.0-bf1.15.gdx --quiet
for ix in minilm-277k-cap1.0 minilm-277k-cap1.0-bf1.15; do
    echo "== $ix"
    $TAIL $W277/$ix.gdx $D/minilm-277k/query.fvecs $W277/minilm-277k-test-gt.ivecs 0.95,0.99 learned,gbdt 9
done | tee $OUT/tail-latency-277k-beam-factor-1.15.txt
