#!/bin/bash
# The epsilon rule as NGT's ε-search at full size: MiniLM at 276,446 words (the tenth full-size
# build), learning set 1, against the logistic and gbdt rules and against the rule as first
# built (a 1.3x or 2x beam cut short by the radius) on the same index and learning queries.
# Run from the repository root. NEW: a binary of b95a160 (the search code of eaaf092); OLD: of
# 201654b. Work and recall are deterministic for an index and model; the QPS columns are single
# passes (3 rounds and 1) beside other jobs and compare nothing.
set -e
OUT=bench/results/2026-12-07-ngt-277k D=${D:-/tmp/data} W=${W:-/tmp/wcap-277k}
python3 ../shared/data/make/make_minilm_words.py $D/minilm-277k --n-base 276446
python3 bench/adaptive.py --data $D --sets minilm-277k:cosine --holdout-seed 1 --seed 1 --rounds 1 \
    --rules learned,gbdt,epsilon --gbdt-trees 32 --gbdt-rate 0.3 --work $W --geodex "$NEW" \
    --out /tmp/eps-277k-ngt/base > $OUT/adaptive-277k.txt
cp /tmp/eps-277k-ngt/base/adaptive.json /tmp/eps-277k-ngt/base/minilm-277k-fixed-sweep.txt $OUT/
mv $OUT/minilm-277k-fixed-sweep.txt $OUT/fixed-sweep.txt
python3 bench/equal_recall.py $OUT/adaptive.json $OUT/fixed-sweep.txt > $OUT/equal-recall.txt
# Work budgets 1.0 and 0.95 (models learned again by NEW).
python3 bench/work_cap.py --work $W --data $D --sets minilm-277k:fvecs --caps '' \
    --variant 'ngtcap=--beam-factor 1.3 --work-cap 1.0' \
    --variant 'ngtcap0.95=--beam-factor 1.3 --work-cap 0.95' \
    --rules learned,epsilon --rounds 3 --runs 1 --geodex "$NEW" --out /tmp/eps-277k-ngt/cap \
    > $OUT/work-cap-277k.txt
# The rule as first built: models learned and searched by OLD, beam 1.3x and 2x ('none' is the
# NGT model searched by the old binary, a mixture that compares nothing).
python3 bench/work_cap.py --work $W --data $D --sets minilm-277k:fvecs --caps '' \
    --variant 'old=--beam-factor 1.3' --variant 'oldb2=--beam-factor 2.0' --rules epsilon \
    --rounds 1 --runs 1 --geodex "$OLD" --out /tmp/eps-277k-ngt/old > $OUT/old-rule-277k.txt
