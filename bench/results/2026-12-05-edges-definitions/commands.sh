#!/bin/sh
# Issue 18, item 9: the out-of-distribution track. minilm-words-20k's base (20,000 words) against
# embedded WordNet definitions: 1,000 test and 2,000 learning definitions, disjoint.
# Needs wordnet-base (apt) and the MiniLM generator's Python packages (see bench/make_definitions.py).
set -e
DEFS=${1:-/tmp/defs}
python3 bench/make_definitions.py "$DEFS" --base ../shared/data/minilm-words-20k --make ../shared/data/make
ARMS=controls,learned,anneal,mlp-progress-reinforce,logistic-set-concrete-hold,logistic-set-concrete-hold-reinforce
OUT=bench/results/2026-12-05-edges-definitions
for s in 42 7 1; do
    python3 bench/edges.py --sets minilm-definitions --definitions "$DEFS" --arms $ARMS --seeds $s \
        --learn-threads 1 --work /tmp/eb-$s --out $OUT/seed$s
done
python3 bench/edges.py --table $OUT/seed42 $OUT/seed7 $OUT/seed1
