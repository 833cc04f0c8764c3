#!/bin/bash
# Issue 17: the adaef rule's law with a calibrated variance for the dropped axes, and 32 axes by
# default (ADAPTIVE.md, "Ada-ef itself"); Ada-ef at full size (MiniLM 277k, three builds).
# GEODEX: a release build of this commit. Run from the repository root; needs numpy and the
# MiniLM generator's packages (../shared/data/make/make_minilm_words.py).
set -e
OUT=bench/results/2026-12-06-adaef-law
GEODEX=${GEODEX:-target/release/geodex}
cargo build --release -q -p geodex-cli -p geodex-adaptive --example check_cost
# How well r axes estimate a query's standard deviation, by stand-in for the dropped axes.
python3 bench/law_residual.py > $OUT/law-residual.txt
# One build (learning set 1 of bench/results/2026-12-06-adaef/commands.sh, /tmp/adef-1, with
# its adaptive.py report in /tmp/adef-base): the index's own model (the law as first built: 64
# axes, probabilistic PCA's residual) against models re-learned with the calibrated residual.
python3 bench/adaef_laws.py --work /tmp/adef-1 --run /tmp/adef-base --seed 1 --axes 64,32 \
    --geodex $GEODEX > $OUT/set-1-same-build.txt
# What the 32-axis law costs (models with trees, for check_cost's other rows).
for SET in sift-debian:bvecs minilm-words-20k:fvecs; do
    N=${SET%%:*}; E=${SET##*:}
    $GEODEX learn-stop --index /tmp/adef-1/$N.gdx --out /tmp/adef-1/$N-cost-32.gdx \
        --queries /tmp/adef-1/$N-learn.$E --groundtruth /tmp/adef-1/$N-learn-gt.ivecs \
        --target-recall 0.9,0.95,0.99 --gbdt-trees 32 --gbdt-rate 0.3 --adaef-axes 32 --seed 1 --quiet
    for T in 0.9 0.95; do
        target/release/examples/check_cost /tmp/adef-1/$N-cost-32.gdx ../shared/data/$N/query.$E \
            /tmp/adef-1/$N-test-gt.ivecs $T > $OUT/check-cost-${N%%-*}-$T-axes-32.txt
    done
done
# Full size: MiniLM at 276,446 words, the last 2,000 base rows held out, three builds.
python3 ../shared/data/make/make_minilm_words.py /tmp/data/minilm-277k --n-base 276446
for B in "" -build-2 -build-3; do
    python3 bench/adaptive.py --out $OUT/minilm-277k$B --data /tmp/data --sets minilm-277k:cosine \
        --rules patience,ada,adaef,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 --rounds 1 \
        --geodex $GEODEX --work /tmp/adaptive-large > $OUT/minilm-277k$B.txt
    python3 bench/equal_recall.py $OUT/minilm-277k$B/adaptive.json \
        $OUT/minilm-277k$B/minilm-277k-fixed-sweep.txt > $OUT/minilm-277k$B-equal-recall.txt
done
# The five learning sets of bench/results/2026-12-06-adaef/commands.sh, built anew, with this law.
for S in 1 2 3 4 5; do
    python3 bench/adaptive.py --out $OUT/holdout-$S --holdout-seed $S --seed $S --rounds 1 \
        --rules patience,ada,adaef,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 --geodex $GEODEX \
        --work /tmp/adef-law-$S > $OUT/holdout-$S.txt
done
python3 bench/adaptive_spread.py $OUT/holdout-{1,2,3,4,5} --learned adaef,learned,gbdt \
    --controls patience,ada | tee $OUT/spread.txt
# SIFT at full size (every photo; needs the photo packages and opencv of make_sift.py), one build.
python3 ../shared/data/make/make_sift.py /tmp/data/sift-max 1000000 42 --jobs 2
python3 bench/adaptive.py --out $OUT/sift-323k --data /tmp/data --sets sift-max:l2 \
    --rules patience,ada,adaef,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 --rounds 1 \
    --geodex $GEODEX --work /tmp/adaptive-large > $OUT/sift-323k.txt
python3 bench/equal_recall.py $OUT/sift-323k/adaptive.json $OUT/sift-323k/sift-max-fixed-sweep.txt \
    > $OUT/sift-323k-equal-recall.txt
# Every rule timed on a quiet machine: interleaved rounds, one search thread (timed-*.txt). The
# indexes: learning set 1 above, the last MiniLM 277k build and the SIFT 323k build.
for N in sift-debian:bvecs minilm-words-20k:fvecs; do
    S=${N%%:*}; E=${N##*:}
    bench/stop_timed.sh 9 0.9,0.95,0.99 /tmp/adef-law-1/$S.gdx ../shared/data/$S/query.$E \
        /tmp/adef-law-1/$S-test-gt.ivecs $GEODEX > $OUT/timed-$S-holdout-1.txt
done
bench/stop_timed.sh 7 0.9,0.95,0.99 /tmp/adaptive-large/minilm-277k.gdx /tmp/data/minilm-277k/query.fvecs \
    /tmp/adaptive-large/minilm-277k-test-gt.ivecs $GEODEX > $OUT/timed-minilm-277k-build-3.txt
bench/stop_timed.sh 7 0.9,0.95,0.99 /tmp/adaptive-large/sift-max.gdx /tmp/data/sift-max/query.bvecs \
    /tmp/adaptive-large/sift-max-test-gt.ivecs $GEODEX > $OUT/timed-sift-323k.txt
RUNS=3 bench/stop_timed.sh 5 0.9,0.95,0.99 /tmp/adaptive-large/sift-max.gdx /tmp/data/sift-max/query.bvecs \
    /tmp/adaptive-large/sift-max-test-gt.ivecs $GEODEX > $OUT/timed-sift-323k-runs-3.txt
