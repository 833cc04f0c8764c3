#!/bin/bash
# Issue 22: hard negatives — a share of each pair's negatives drawn from the node's nearest
# unrelated nodes in the current embedding (`geodex embed --hard-negatives S --hard-pool P`,
# mined exactly every 10 epochs). Mammals: Poincaré d = 10, lr 0.3, 300 epochs, 50 negatives,
# seed 0, one thread, shares 0 / 0.02 / 0.04 (pool 128) / 0.1 / 0.3 -> mammals.tsv.
# Nouns: the 100-negative run of ../2026-12-03-nouns-negatives (Poincaré d = 10, lr 0.1, seed 0,
# one thread) with 5 % hard negatives, 100 epochs, beside that run's own 100-epoch JSON, and
# bench/hierarchy_misses.py on it.
# M = the mammal closure, E = the full noun closure (`python3 make_wordnet.py /tmp/wn --full`).
# Usage: commands.sh mammals|nouns  (run from this directory)
G=${G:-target/release/geodex}
M=${M:-/tmp/wn/mammal_closure.tsv}
E=${E:-/tmp/wn/noun_closure.tsv}
W=${W:-/tmp/nouns-hard}
PY=${PY:-python3}
mkdir -p "$W"
if [ "$1" = mammals ]; then
    echo "share pool map mean_rank" > mammals.tsv
    for run in "0 32" "0.02 32" "0.04 128" "0.1 32" "0.3 32"; do
        set -- $run
        $G embed --edges "$M" --model poincare --dim 10 --lr 0.3 --epochs 300 --threads 1 \
            --seed 0 --hard-negatives "$1" --hard-pool "$2" --out "$W/m.fvecs" --names "$W/m.names" --quiet
        $G embed-eval --edges "$M" --embedding "$W/m.fvecs" --names "$W/m.names" --model poincare \
            --json --quiet | $PY -c "import json, sys; d = json.load(sys.stdin); print('$1 $2', d['map'], d['mean_rank'])" >> mammals.tsv
    done
    exit
fi
tag=poincare-d10-lr0.1-neg100-hard0.05
$G embed --edges "$E" --model poincare --dim 10 --lr 0.1 --negatives 100 --hard-negatives 0.05 \
    --epochs 100 --threads 1 --seed 0 --out "$W/$tag.fvecs" --names "$W/$tag.names" --json --quiet > "$tag-100-embed.json"
$G embed-eval --edges "$E" --embedding "$W/$tag.fvecs" --names "$W/$tag.names" --model poincare \
    --sample 2000 --sources 100 --threads 1 --json --quiet > "$tag-100-eval.json"
$PY ../../hierarchy_misses.py --embedding "$W/$tag.fvecs" --names "$W/$tag.names" --edges "$E" \
    --sample 2000 --boundary-eps 1e-5 > "$tag-100-misses.json"
