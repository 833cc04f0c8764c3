#!/bin/bash
# Issue 22: is the nouns' MAP cap (0.87 at d = 10) an artefact of the per-pair step size?
# The reference implementation's recipe averages the loss over batches of 50 pairs at lr 1.0
# (Poincaré), a per-pair step of 0.02, for 1,500 epochs; geodex's trainer steps per pair, and the
# validated rate was 0.3. Here: Poincaré d = 10 at per-pair rates 0.1 and 0.03, one thread each
# (exactly reproducible), measured every 100 epochs (resumed from the run's own checkpoint).
# E = the full noun closure (`python3 make_wordnet.py /tmp/wn --full`), G = geodex.
# Usage: commands.sh LR [LAST_EPOCH [validate]]  (run from this directory; JSON lands beside it)
G=${G:-target/release/geodex}
E=${E:-/tmp/wn/noun_closure.tsv}
W=${W:-/tmp/nouns-rate}
LR=$1
LAST=${2:-400}
mkdir -p "$W"
[ "$3" = validate ] || for epochs in $(seq 100 100 "$LAST"); do
    tag=poincare-d10-lr$LR-$epochs
    [ -f "$tag-eval.json" ] && continue
    $G embed --edges $E --model poincare --dim 10 --lr "$LR" --epochs "$epochs" --threads 1 \
        --seed 0 --checkpoint "$W/lr$LR.ck" --checkpoint-every 50 --resume \
        --out "$W/$tag.fvecs" --names "$W/$tag.names" --json --quiet > "$tag-embed.json"
    search=()
    [ "$epochs" = "$LAST" ] && search=(--ef 10,32 --queries 2000)
    $G embed-eval --edges $E --embedding "$W/$tag.fvecs" --names "$W/$tag.names" \
        --model poincare --sample 2000 --sources 100 "${search[@]}" --threads 1 \
        --json --quiet > "$tag-eval.json"
done
# The held-out curve of the same rate (`commands.sh LR LAST validate`): 2 % of the pairs held
# out, measured every 100 epochs so that its choice is one of the stages above.
if [ "$3" = validate ]; then
    $G embed --edges $E --model poincare --dim 10 --lr "$LR" --epochs "$LAST" --threads 1 \
        --seed 0 --validation 0.02 --eval-every 100 --patience 4 --validation-sample 1000 \
        --checkpoint "$W/val.ck" --resume --out "$W/val-lr$LR.fvecs" --names "$W/val-lr$LR.names" \
        --json --quiet > "poincare-d10-lr$LR-validation.json"
fi
