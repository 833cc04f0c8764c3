#!/bin/bash
# The float query's validation in one vectorised pass (crates/geodex-core/src/validate.rs):
# A/B of a release build of 94f654e (BEFORE) against this commit's (AFTER), interleaved rounds,
# one search thread. OUT holds sift-debian.gdx and minilm-words-20k.gdx (here the learning-set-1
# indexes of bench/results/2026-12-07-work-cap/commands.sh, /tmp/wcap; any build serves: only
# QPS is compared). Two runs, the binaries' order swapped in the second.
set -e
OUT=${W:-/tmp/wcap} bench/ab.sh 10 10,32,128 $BEFORE $AFTER | tee bench/results/2026-12-07-query-check/ab-1.txt
OUT=${W:-/tmp/wcap} bench/ab.sh 15 10,32,128 $AFTER $BEFORE | tee bench/results/2026-12-07-query-check/ab-2.txt
