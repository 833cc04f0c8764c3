#!/bin/bash
# Issue 17: does checking more often than every 64 distance evaluations let the score rules
# stop nearer the best point? (ADAPTIVE.md, "How often to check"). Run from the repository
# root; work and recall are deterministic for an index and model (the timing columns of these
# files are single passes, not comparisons).
set -e
OUT=bench/results/2026-12-07-check-interval
W=${W:-/tmp/wcap} W277=${W277:-/tmp/wcap-277k} D=${D:-/tmp/data}
cargo build --release -q -p geodex-cli
# Learning set 1 (a seeded draw of 2,000 base rows held out on both shared sets).
python3 bench/adaptive.py --holdout-seed 1 --seed 1 --rounds 1 --rules patience,learned,gbdt \
    --gbdt-trees 32 --gbdt-rate 0.3 --work $W --out /tmp/wcap-base | tee $OUT/adaptive-base.txt
# The same models learned again with a check every 32 and every 16 evaluations; work at equal
# recall against a fine fixed-ef sweep (patience makes no checks: the control).
python3 bench/work_cap.py --work $W --caps '' --variant 'iv32=--interval 32' \
    --variant 'iv16=--interval 16' --rounds 1 --runs 1 --out /tmp/iv-out
cp /tmp/iv-out/minilm-words-20k.txt /tmp/iv-out/sift-debian.txt $OUT/
# A new full-size MiniLM build, the same protocol (adaptive-277k.txt: its QPS columns were
# taken beside a compile and mean nothing), and its work at equal recall.
python3 ../shared/data/make/make_minilm_words.py $D/minilm-277k --n-base 276446
python3 bench/adaptive.py --data $D --sets minilm-277k:cosine --holdout-seed 1 --seed 1 --rounds 1 \
    --rules patience,learned,gbdt --gbdt-trees 32 --gbdt-rate 0.3 --work $W277 \
    --out /tmp/wcap-277k-base | tee $OUT/adaptive-277k.txt
python3 bench/work_cap.py --work $W277 --data $D --sets minilm-277k:fvecs --caps '' --rounds 1 \
    --runs 1 --out /tmp/iv-277k
cp /tmp/iv-277k/minilm-277k.txt $OUT/
