#!/bin/bash
# Issue 22 item 1: the WordNet nouns at d = 5, 10 and 20 for Poincaré, Lorentz and Euclidean under
# one protocol — HYPERBOLIC.md "To convergence": 2 % of the closure pairs held out, held-out MAP
# every 25 epochs, a run stops after 4 measurements without a better one (at most 500 epochs),
# the best epoch is then trained on all pairs; the reference recipe otherwise (50 negatives from
# the paper's sampler, constant rate, projection margin 1e-5, seed 0). Poincaré and Lorentz at
# lr 0.3 (d = 10's validated rate), Euclidean over lr 0.1, 0.3, 1. One training thread per run,
# so each run is exactly reproducible; the two halves below ran side by side on the two cores.
# The d = 10 rows are ../2026-12-01-convergence-sampler's (same protocol and sampler, 2 threads),
# copied here so that the last line can write one table.
# E = the full noun closure (`python3 make_wordnet.py /tmp/wn --full`), G = geodex, W = scratch.
# Run from the repository's root.
G=${G:-target/release/geodex}
E=${E:-/tmp/wn/noun_closure.tsv}
W=${W:-/tmp/conv}
OUT=bench/results/2026-12-04-nouns-dims
run() { python3 bench/convergence.py --geodex "$G" --edges "$E" --schedules constant --threads 1 \
    --work "$W" --out "$OUT" --runs "$@"; }
run euclidean:5:0.1,0.3,1 poincare:5:0.3 lorentz:5:0.3 &
run euclidean:20:0.1,0.3,1 poincare:20:0.3 lorentz:20:0.3
wait
# The Euclidean d = 20 grid chose its largest rate at its first measurement, so lr 3 was added
# (own work directory; stopped after 100 epochs, below lr 1 throughout — the curve, read from its
# checkpoint, is euclidean-d20-lr3-validation.json):
#   python3 bench/convergence.py … --runs euclidean:20:3 --work /tmp/conv-e20 --out /tmp/e20
for m in poincare lorentz euclidean; do
    cp -n bench/results/2026-12-01-convergence-sampler/$m-d10-{embed,eval}.json "$OUT/"
done
# Every run is done now, so this only writes the table (convergence.md).
run euclidean:5:0.1,0.3,1 euclidean:10:0.3 euclidean:20:0.1,0.3,1 poincare:5:0.3 poincare:10:0.3 \
    poincare:20:0.3 lorentz:5:0.3 lorentz:10:0.3 lorentz:20:0.3
