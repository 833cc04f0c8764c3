#!/bin/bash
# Issue 22: do more negatives per pair lift the nouns above the 0.886 plateau of lr 0.1? The
# same run as ../2026-12-02-nouns-rate (Poincaré d = 10, constant lr 0.1, seed 0, one thread,
# so exactly reproducible) with NEG negatives per pair instead of 50, measured every STEP epochs
# by resuming its own checkpoint, up to EPOCHS (the search measured at the last).
# E = the full noun closure (`python3 make_wordnet.py /tmp/wn --full`), G = geodex.
# DIM (default 10) sets the dimension.
# Usage: commands.sh [NEG [EPOCHS [STEP]]]  (run from this directory; JSON lands beside it)
G=${G:-target/release/geodex}
E=${E:-/tmp/wn/noun_closure.tsv}
W=${W:-/tmp/nouns-negatives}
NEG=${1:-100}
EPOCHS=${2:-300}
DIM=${DIM:-10}
STEP=${3:-100}
mkdir -p "$W"
tag=poincare-d$DIM-lr0.1-neg$NEG
for ((e = STEP; e <= EPOCHS; e += STEP)); do
    [ -f "$tag-$e-eval.json" ] && continue
    $G embed --edges $E --model poincare --dim "$DIM" --lr 0.1 --negatives "$NEG" --epochs "$e" \
        --threads 1 --seed 0 --checkpoint "$W/$tag.ck" --checkpoint-every 10 --resume \
        --out "$W/$tag.fvecs" --names "$W/$tag.names" --json --quiet > "$tag-$e-embed.json"
    search=()
    [ "$e" -ge "$EPOCHS" ] && search=(--ef 10,32 --queries 2000)
    $G embed-eval --edges $E --embedding "$W/$tag.fvecs" --names "$W/$tag.names" \
        --model poincare --sample 2000 --sources 100 "${search[@]}" --threads 1 \
        --json --quiet > "$tag-$e-eval.json"
done
