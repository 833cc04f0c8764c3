#!/bin/bash
# Issue 17, "a richer state": the stop-gain replay of ../2026-12-02-stop-gain on traces that now
# carry the queued frontier (candidates still queued nearer than the k-th result), with the
# predictors that use it (bench/stop_gain_gbdt.py's "+frontier" arms). Same data split, index,
# model and traces as that run. Usage: commands.sh WORK (from the repository root).
set -e
OUT=$(dirname "$0") "$(dirname "$0")/../2026-12-02-stop-gain/commands.sh" "$@"
# Then the query-side features (LAET-style: the query's norm and 16 principal components) on the
# same traces: the learning queries are WORK/NAME-learn.*, the test queries the shared sets'.
DATA=${DATA:-../shared/data}
python3 bench/stop_gain_gbdt.py "$1/sift-debian=$DATA/sift-debian/query.bvecs" \
    "$1/minilm-words-20k=$DATA/minilm-words-20k/query.fvecs" | tee "$(dirname "$0")/query.txt"
