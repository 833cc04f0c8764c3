#!/bin/bash
# Issue 22: where the nouns' MAP optimum is (HYPERBOLIC.md, "Where the optimum is").
# E = the full noun closure (`python3 make_wordnet.py /tmp/wn --full`), G = geodex.
G=${G:-target/release/geodex}
E=${E:-/tmp/wn/noun_closure.tsv}
W=${W:-/tmp/nouns-optimum}
EV="--sample 2000 --sources 100 --ef 10,32 --queries 2000"
mkdir -p "$W"
run() { # tag, extra embed arguments…
    tag=$1
    shift
    $G embed --edges $E --model poincare --seed 0 --out $W/$tag.fvecs --names $W/$tag.names \
        --json --quiet "$@" > $tag-embed.json
    $G embed-eval --edges $E --embedding $W/$tag.fvecs --names $W/$tag.names --model poincare \
        --json --quiet $EV > $tag-eval.json
}
# The validated budget with the paper's sampler, checkpointed…
run poincare-d10-250 --dim 10 --lr 0.3 --epochs 250 --checkpoint $W/base.ck
# …then 50 more epochs at a tenth of the rate, resumed from that checkpoint.
cp $W/base.ck $W/step.ck
run poincare-d10-250-then-50-at-0.03 --dim 10 --lr 0.03 --epochs 300 --checkpoint $W/step.ck --resume
# 30 % of every pair's negatives drawn near u in the hierarchy.
run poincare-d10-local0.3-250 --dim 10 --lr 0.3 --epochs 250 --local-negatives 0.3
# Poincaré d = 5 at the d = 10 budget (not validated for d = 5).
run poincare-d5-250 --dim 5 --lr 0.3 --epochs 250
