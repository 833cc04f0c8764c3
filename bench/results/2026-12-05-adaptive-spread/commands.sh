#!/bin/bash
# Issue 17: the stopping rules over five learning sets, each built twice (ADAPTIVE.md, "Which rule
# wins, over five learning sets and two builds"). Each run holds out its own learning queries
# (--holdout-seed S: a uniform draw of 2,000 base rows; --holdout-photos: 2,000 rows of whole
# held-out photos, sift-debian only), builds the index on the rest with two threads (so two runs
# of one learning set differ in the graph), learns every rule with learn-stop's split seed S,
# runs every rule on the test queries once (work and recall are deterministic for an index; QPS is
# not compared here), and sweeps fixed ef finely for the equal-recall comparison. Run from the
# repository root; needs numpy (bench/requirements.txt), and for the photos opencv-python-headless
# and the generator's Debian photo packages (see its make_sift.py). About a minute a run on 2 cores.
# The first pass (first-build/) ran without the PPO rule; the second with it.
set -e
OUT=bench/results/2026-12-05-adaptive-spread
cargo build --release -q -p geodex-cli
python3 bench/sift_images.py --set ../shared/data/sift-debian --generator ../shared/data/make/make_sift.py \
    --out /tmp/sift-images
runs() {  # DIR RULES
    mkdir -p $1
    for S in 1 2 3 4 5; do
        python3 bench/adaptive.py --out $1/holdout-$S --holdout-seed $S --seed $S --rounds 1 --rules $2 \
            --gbdt-trees 32 --gbdt-rate 0.3 --work /tmp/adsp-$S > $1/holdout-$S.txt
        python3 bench/adaptive.py --sets sift-debian:l2 --out $1/photos-$S --holdout-photos /tmp/sift-images/image_of_row.npy \
            --holdout-seed $S --seed $S --rounds 1 --rules $2 --gbdt-trees 32 --gbdt-rate 0.3 \
            --work /tmp/adph-$S > $1/photos-$S.txt
    done
}
runs $OUT/first-build patience,ada,learned,gbdt
runs $OUT patience,ada,learned,ppo,gbdt
python3 bench/adaptive_spread.py $OUT/holdout-{1,2,3,4,5} $OUT/first-build/holdout-{1,2,3,4,5} \
    --learned learned,gbdt,ppo | tee $OUT/spread.txt
python3 bench/adaptive_spread.py $OUT/photos-{1,2,3,4,5} $OUT/first-build/photos-{1,2,3,4,5} \
    --learned learned,gbdt,ppo | tee $OUT/spread-photos.txt
