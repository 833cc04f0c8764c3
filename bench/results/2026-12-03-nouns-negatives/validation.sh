#!/bin/bash
# Issue 22: the validation protocol for NEG negatives per pair (Poincaré d = 10, constant lr 0.1,
# seed 0, one thread): 2 % of the closure pairs held out, the rest trained, the held-out
# link-prediction MAP measured every STEP epochs up to EPOCHS (HYPERBOLIC.md, "To convergence"),
# then the chosen epochs trained on all pairs; the JSON (with the held-out curve) lands beside
# this script. The all-pairs run at the chosen epoch is commands.sh's run (same seed, one
# thread), which commands.sh measures. Usage: validation.sh [NEG [EPOCHS [STEP]]]
# (run from this directory; G, E, W as in commands.sh)
G=${G:-target/release/geodex}
E=${E:-/tmp/wn/noun_closure.tsv}
W=${W:-/tmp/nouns-negatives}
NEG=${1:-200}
EPOCHS=${2:-200}
DIM=${DIM:-10}
STEP=${3:-50}
mkdir -p "$W"
tag=poincare-d$DIM-lr0.1-neg$NEG-validation
$G embed --edges $E --model poincare --dim "$DIM" --lr 0.1 --negatives "$NEG" --epochs "$EPOCHS" \
    --validation 0.02 --eval-every "$STEP" --patience 0 --validation-sample 1000 \
    --threads 1 --seed 0 --checkpoint "$W/$tag.ck" --checkpoint-every 10 --resume \
    --out "$W/$tag.fvecs" --names "$W/$tag.names" --json --quiet > "$tag.json"
