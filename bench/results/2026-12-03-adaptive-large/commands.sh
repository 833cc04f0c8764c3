#!/bin/bash
# Issue 17 on the largest sets the shared generators make (ADAPTIVE.md, "At full size"): every
# SIFT photo (323,300 vectors) and MiniLM at 276,446 words, the last 2,000 base rows held out as
# learning queries, 1,000 test queries, one search thread, 3 interleaved rounds; the gbdt rule
# with 32 trees at rate 0.3 (the in-budget configuration of "Trees in the loop"); then the
# oracle on the same indexes and models, and fixed ef swept finely so that every rule can be
# compared with fixed ef at its own recall (linear interpolation between neighbouring efs).
# Run from the repository root; D = where the sets go, W = work directory (indexes).
set -e
OUT=bench/results/2026-12-03-adaptive-large
D=${D:-/tmp/data}
W=${W:-/tmp/adaptive-large}
python3 ../shared/data/make/make_sift.py $D/sift-max 1000000 42
python3 ../shared/data/make/make_minilm_words.py $D/minilm-277k --n-base 276446
cargo build --release -q -p geodex-cli -p geodex-adaptive --example oracle
for s in sift-max:l2:sift-323k minilm-277k:cosine:minilm-277k; do
    IFS=: read -r dir metric name <<< "$s"
    python3 bench/adaptive.py --out $OUT/$name --data $D --sets $dir:$metric \
        --rules patience,ada,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 --rounds 3 --work $W \
        | tee $OUT/$name/summary.txt
    test=$(ls $D/$dir/query.*vecs)
    target/release/examples/oracle $W/$dir.gdx "$test" $W/$dir-test-gt.ivecs 0.9,0.95,0.99 8 \
        | tee $OUT/$name/oracle.txt
    target/release/geodex bench --index $W/$dir.gdx --queries "$test" --groundtruth $W/$dir-test-gt.ivecs \
        --ef "$(cat $OUT/$name/efs)" --threads 1 --runs 1 --quiet | tee $OUT/$name/fixed-sweep.txt
done
# The learned rule with a wider beam allowance on MiniLM (a copy of the index, its model
# re-learned with --beam-factor B; the table's runs use 1.3):
for bf in 1.6 2.0; do
    cp $W/minilm-277k.gdx $W/minilm-bf$bf.gdx
    target/release/geodex learn-stop --index $W/minilm-bf$bf.gdx --queries $W/minilm-277k-learn.fvecs \
        --groundtruth $W/minilm-277k-learn-gt.ivecs --target-recall 0.9,0.95,0.99 --gbdt-trees 0 \
        --beam-factor $bf --seed 42 --quiet
    target/release/geodex bench --index $W/minilm-bf$bf.gdx --queries $D/minilm-277k/query.fvecs \
        --groundtruth $W/minilm-277k-test-gt.ivecs --target-recall 0.9,0.95,0.99 --stop learned \
        --threads 1 --runs 1 --quiet | tee $OUT/minilm-277k/learned-beam-factor-$bf.txt
done
