#!/bin/bash
# Issue 17 (d): gradient-boosted trees inside the search loop (`--stop gbdt`) against the
# learned (logistic) rule and fixed ef, both shared sets, the last 2,000 base rows held out as
# learning queries, 5 interleaved rounds, one search thread (ADAPTIVE.md, "Trees in the loop").
# Run from the repository root; needs numpy (bench/requirements.txt).
set -e
OUT=bench/results/2026-12-02-adaptive-gbdt
W=${W:-/tmp/adaptive-work}
cargo build --release -q -p geodex-cli -p geodex-adaptive --example check_cost
python3 bench/adaptive.py --out $OUT --rules learned,gbdt --work $W | tee $OUT/summary.txt
check_cost() {
    for s in sift-debian:sift-learn.bvecs minilm-words-20k:minilm-learn.fvecs; do
        n=${s%%:*}; q=${s##*:}
        target/release/examples/check_cost $W/$n.gdx $W/$q $W/$n-learn-gt.ivecs 0.95
    done
}
check_cost | tee $OUT/check-cost-100.txt
python3 bench/adaptive.py --out $OUT/trees-32 --rules learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 \
    --work $W | tee $OUT/trees-32/summary.txt
check_cost | tee $OUT/check-cost-32.txt
# complete-trees-*.json / .txt: the first version of the rule (a split per node, 100 trees of
# depth 4), measured the same way before the trees became oblivious.
