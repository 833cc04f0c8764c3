#!/bin/bash
# Issue 17: the gain rule (`--stop gain`: trees predicting the recall still to be gained over the
# next four checks, from the seven features and their history) in the search loop, against the
# learned (logistic) and gbdt rules and fixed ef (ADAPTIVE.md, "The gain still to come, in the
# loop"). Both shared sets, the last 2,000 base rows held out as learning queries, 5 interleaved
# rounds, one search thread. Run from the repository root; needs numpy (bench/requirements.txt).
set -e
OUT=bench/results/2026-12-05-adaptive-gain
W=${W:-/tmp/adaptive-work}
G=target/release/geodex
cargo build --release -q -p geodex-cli -p geodex-adaptive --example check_cost
# 1. Every rule trained on traces at the default cap ef 512.
python3 bench/adaptive.py --out $OUT --rules learned,gbdt,gain --gbdt-trees 32 --gbdt-rate 0.3 \
    --gain-trees 32 --work $W | tee $OUT/summary.txt
# 2. The traces' beam matched to the beam the rules run at for target 0.95 (1.3 x fixed ef:
#    38 on MiniLM, 42 on SIFT): --ef-cap 40 and 44, every rule re-learned there.
matched() {  # NAME QUERIES CAP
    $G learn-stop --index $W/$1.gdx --queries $W/$1-learn.$4 --groundtruth $W/$1-learn-gt.ivecs \
        --target-recall 0.95 --ef-cap $3 --gbdt-trees 32 --gbdt-rate 0.3 --gain-trees 32 \
        --out $W/$1-cap$3.gdx
    for r in fixed learned gbdt gain; do
        $G bench --index $W/$1-cap$3.gdx --queries $2 --groundtruth $W/$1-test-gt.ivecs \
            --target-recall 0.9,0.95 --stop $r --runs 1 --csv $W/c.csv --quiet > /dev/null
        sed "s/^/$r,/" $W/c.csv | tail -n +2
    done
    target/release/examples/check_cost $W/$1-cap$3.gdx $W/$1-learn.$4 $W/$1-learn-gt.ivecs 0.95
}
matched minilm-words-20k ../shared/data/minilm-words-20k/query.fvecs 40 fvecs | tee $OUT/minilm-cap40.txt
matched sift-debian ../shared/data/sift-debian/query.bvecs 44 bvecs | tee $OUT/sift-cap44.txt
