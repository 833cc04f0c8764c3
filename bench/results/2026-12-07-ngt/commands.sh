#!/bin/bash
# The epsilon rule as NGT's ε-search (the radius decides what is queued, an exact walk keeps k
# results) against the rule as first built (a beam of 1.3x fixed ef cut short by the radius).
# Run from the repository root. OLD: a binary of 201654b; NEW: of the commit that made the
# change. W holds the indexes of a `bench/adaptive.py --holdout-seed 1` run (2026-12-07-heap)
# and the old rule's capped models (SET-cap1.0.gdx, `bench/work_cap.py --caps 1.0`).
set -e
OUT=bench/results/2026-12-07-ngt W=${W:-/tmp/wcap} D=../shared/data
# Before the change: how the old rule fares as a pure truncation (--beam-factor 1, 1.15).
python3 bench/work_cap.py --work $W --data $D --caps '' --variant 'b1=--beam-factor 1' \
    --variant 'b1.15=--beam-factor 1.15' --rules epsilon,learned --rounds 7 --runs 3 \
    --geodex "$OLD" --out /tmp/eps-b1 > $OUT/beam-factor-before.txt
# The models learned again by the new binary, without and with a work budget.
python3 bench/work_cap.py --work $W --data $D --caps '' --variant 'ngt=--beam-factor 1.3' \
    --variant 'ngtcap=--beam-factor 1.3 --work-cap 1.0' --rules epsilon --rounds 9 --runs 3 \
    --geodex "$NEW" --out /tmp/eps-ngt > $OUT/work-cap-ngt.txt
# Interleaved rounds: fixed ef (new binary), the old rule (old binary, old models, without and
# with the budget), the new rule (new binary, ngt models).
. bench/stop_rounds.sh
trio() { # rounds set ext
    local set=$2
    stop_rounds "$1" "$set" "$3" "fixed $NEW $set fixed" "eps-old $OLD $set epsilon" \
        "eps-ngt $NEW $set-ngt epsilon" "eps-ngtcap $NEW $set-ngtcap epsilon" \
        "eps-oldcap $OLD $set-cap1.0 epsilon"
}
summary() { stop_summary "$1" fixed eps-old eps-oldcap eps-ngt eps-ngtcap; }
trio 15 sift-debian bvecs > $OUT/trio-sift-raw.txt
trio 10 minilm-words-20k fvecs > $OUT/trio-minilm-raw.txt
summary $OUT/trio-sift-raw.txt > $OUT/trio-sift.txt
summary $OUT/trio-minilm-raw.txt > $OUT/trio-minilm.txt
# Two tries on the old rule that did nothing (not landed): OUTOFLINE = 201654b with the top-k
# insertion of `Radius::accepted` out of line; ONESINK = that and `measure_each` calling its
# sink from one place.
DATA=$D bench/stop_ab.sh 60 epsilon 0.9,0.95,0.99 $W "$OLD" "$OUTOFLINE" > $OUT/ab-out-of-line-top-epsilon.txt
DATA=$D bench/stop_ab.sh 50 epsilon 0.9,0.95,0.99 $W "$OLD" "$ONESINK" > $OUT/ab-one-sink-epsilon.txt
DATA=$D bench/stop_ab.sh 50 fixed 0.9,0.95,0.99 $W "$OLD" "$ONESINK" > $OUT/ab-one-sink-fixed.txt
# The byte walk's result heap at the width it re-ranks (fixed ef's) instead of the 1.3x beam:
# NGT = 049a79e, NGT3 = its successor; models learned by each (SET-ngt*.gdx above; SET-ngt3*.gdx
# with the same learn-stop arguments as work_cap.py passes, by NGT3). 8 rounds beside a CI job.
stop_rounds 8 minilm-words-20k fvecs "fixed $NGT3 minilm-words-20k fixed" \
    "eps-old $NGT minilm-words-20k-ngt epsilon" "eps-ngt $NGT3 minilm-words-20k-ngt3 epsilon" \
    "eps-oldcap $NGT minilm-words-20k-ngtcap epsilon" "eps-ngtcap $NGT3 minilm-words-20k-ngt3cap epsilon" \
    > $OUT/byte-walk-heap-minilm-raw.txt
summary $OUT/byte-walk-heap-minilm-raw.txt > $OUT/byte-walk-heap-minilm.txt
# Stopping off: fixed ef before (OLD) and after (NGT3, eaaf092) the change, 40 rounds.
DATA=$D bench/stop_ab.sh 40 fixed 0.9,0.95,0.99 $W "$OLD" "$NGT3" > $OUT/ab-fixed.txt
