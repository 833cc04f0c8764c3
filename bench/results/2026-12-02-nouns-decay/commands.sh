#!/bin/bash
# Issue 22: does decaying the rate settle the nouns above the constant rate's plateau? The
# constant per-pair rate 0.1 plateaus at MAP 0.885-0.886 from epoch 600
# (../2026-12-02-nouns-rate); here the same run (Poincaré d = 10, seed 0, one thread, so exactly
# reproducible) with the linear schedule: lr 0.1 after burn-in, decaying to lr/epochs at the last
# epoch, for EPOCHS epochs in all; measured once at the end (the schedule depends on the length).
# E = the full noun closure (`python3 make_wordnet.py /tmp/wn --full`), G = geodex.
# Usage: commands.sh [LR [EPOCHS]]  (run from this directory; JSON lands beside it)
G=${G:-target/release/geodex}
E=${E:-/tmp/wn/noun_closure.tsv}
W=${W:-/tmp/nouns-decay}
LR=${1:-0.1}
EPOCHS=${2:-800}
mkdir -p "$W"
tag=poincare-d10-linear-lr$LR-$EPOCHS
$G embed --edges $E --model poincare --dim 10 --lr "$LR" --lr-schedule linear --epochs "$EPOCHS" \
    --threads 1 --seed 0 --checkpoint "$W/$tag.ck" --checkpoint-every 50 --resume \
    --out "$W/$tag.fvecs" --names "$W/$tag.names" --json --quiet > "$tag-embed.json"
$G embed-eval --edges $E --embedding "$W/$tag.fvecs" --names "$W/$tag.names" \
    --model poincare --sample 2000 --sources 100 --ef 10,32 --queries 2000 --threads 1 \
    --json --quiet > "$tag-eval.json"
