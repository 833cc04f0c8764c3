#!/bin/bash
# The search loop's heaps: the full result set's worst replaced in place (one sift-down instead
# of a push and a pop), and the epsilon rule's queue bounded by its radius. Run from the
# repository root. BEFORE: a binary of a556b2a; AFTER: of the commit that added both;
# NOBOUND: AFTER with `Radius::queue_bound` returning ∞; KEY: REPLACE with `Neighbor::cmp` on
# one u64 key (not landed: slower).
set -e
OUT=bench/results/2026-12-07-heap W=${W:-/tmp/wcap}
python3 bench/adaptive.py --holdout-seed 1 --seed 1 --rounds 1 --rules patience,learned,gbdt,epsilon \
    --gbdt-trees 32 --gbdt-rate 0.3 --work $W --out /tmp/eps-base --data ../shared/data
DATA=../shared/data bench/stop_ab.sh 100 fixed 0.9,0.95,0.99 $W "$BEFORE" "$AFTER" | tee $OUT/ab-fixed.txt
DATA=../shared/data bench/stop_ab.sh 100 epsilon 0.9,0.95,0.99 $W "$BEFORE" "$AFTER" | tee $OUT/ab-epsilon.txt
DATA=../shared/data bench/stop_ab.sh 150 epsilon 0.9,0.95,0.99 $W "$NOBOUND" "$AFTER" | tee $OUT/ab-queue-bound-epsilon.txt
DATA=../shared/data bench/stop_ab.sh 100 fixed 0.9,0.95,0.99 $W "$REPLACE" "$KEY" | tee $OUT/ab-order-key-fixed.txt
DATA=../shared/data bench/stop_ab.sh 100 epsilon 0.9,0.95,0.99 $W "$REPLACE" "$KEY" | tee $OUT/ab-order-key-epsilon.txt
# Per-query latency and time per distance before the change (examples/tail_latency.rs).
target/release/examples/tail_latency $W/sift-debian.gdx ../shared/data/sift-debian/query.bvecs \
    $W/sift-debian-test-gt.ivecs 0.9,0.95,0.99 wide,epsilon 9 > $OUT/tail-latency-sift-before.txt
# The epsilon rule with a work budget (learn-stop --work-cap 1.0, into $W/SET-cap1.0.gdx), per
# query, 15 rounds, after the change: p99 work level with fixed ef's, p99 latency not.
python3 bench/work_cap.py --work $W --caps 1.0 --rules epsilon --rounds 5 --runs 1 --out /tmp/eps-cap
for s in sift-debian:bvecs minilm-words-20k:fvecs; do
    n=${s%%:*}
    echo "== $n cap1.0"
    target/release/examples/tail_latency $W/$n-cap1.0.gdx ../shared/data/$n/query.${s##*:} \
        $W/$n-test-gt.ivecs 0.9,0.95,0.99 epsilon 15
done > $OUT/tail-latency-cap1.0.txt
