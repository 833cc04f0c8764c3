#!/bin/bash
# The epsilon rule (NGT's ε-search, eaaf092) with work budgets 1.0, 0.95 and 0.9 against fixed ef,
# on a quiet machine (nothing else running). Run from the repository root. GEODEX: a binary of
# eaaf092 or later. W holds the indexes and models of the 2026-12-07-ngt entry (SET-ngt*.gdx;
# the MiniLM ones learned again by eaaf092 as SET-ngt3*.gdx) and the budgets' models below.
set -e
OUT=bench/results/2026-12-07-ngt-quiet W=${W:-/tmp/wcap} D=../shared/data
[ -n "$SKIP_LEARN" ] || python3 bench/work_cap.py --work $W --data $D --caps '' \
    --variant 'ngtcap0.9=--beam-factor 1.3 --work-cap 0.9' \
    --variant 'ngtcap0.95=--beam-factor 1.3 --work-cap 0.95' \
    --rules epsilon --rounds 1 --runs 1 --geodex "$GEODEX" --out /tmp/eps-cap09 > $OUT/work-cap.txt
. bench/stop_rounds.sh
rounds() { # rounds set ext model-suffix
    local set=$2 m=$4
    stop_rounds "$1" "$set" "$3" "fixed $GEODEX $set fixed" "eps $GEODEX $set-$m epsilon" \
        "cap1.0 $GEODEX $set-${m}cap epsilon" "cap0.95 $GEODEX $set-ngtcap0.95 epsilon" \
        "cap0.9 $GEODEX $set-ngtcap0.9 epsilon"
}
summary() { stop_summary "$1" fixed eps cap1.0 cap0.95 cap0.9; }
rounds 60 sift-debian bvecs ngt > $OUT/sift-raw.txt
rounds 60 minilm-words-20k fvecs ngt3 > $OUT/minilm-raw.txt
summary $OUT/sift-raw.txt > $OUT/sift.txt
summary $OUT/minilm-raw.txt > $OUT/minilm.txt
# Per-round ratios (interquartile range over the rounds) of the table in BENCHMARKS.md.
python3 - $OUT/sift-raw.txt $OUT/minilm-raw.txt > $OUT/per-round.txt <<'PY'
import statistics as st, sys
for f in sys.argv[1:]:
    rows = [l.split() for l in open(f)]
    rounds = [rows[i:i + 15] for i in range(0, len(rows), 15)]
    print(f)
    for t in ["0.9", "0.95", "0.99"]:
        cells = []
        for v in ["eps", "cap1.0", "cap0.95", "cap0.9"]:
            p, q = [], []
            for r in rounds:
                d = {(x[0], x[1]): x for x in r}
                p.append(float(d[(v, t)][5]) / float(d[("fixed", t)][5]))
                q.append(float(d[(v, t)][3]) / float(d[("fixed", t)][3]))
            p.sort(), q.sort()
            n = len(p)
            cells.append(f"{v}: p99 {st.median(p):.3f} [{p[n // 4]:.3f}, {p[3 * n // 4]:.3f}]"
                         f" QPS {st.median(q):.3f} [{q[n // 4]:.3f}, {q[3 * n // 4]:.3f}]")
        print(t, " | ".join(cells))
PY
# Not landed: `measure_each` calling the walk's sink from one place (the per-neighbour closure
# then inlines under the epsilon rule), retried on the NGT form. BEFORE = eaaf092, AFTER = it
# with the change; 40 interleaved rounds per set, the capped models above.
if [ -n "$BEFORE" ] && [ -n "$AFTER" ]; then
    stop_ab 40 minilm-words-20k fvecs ngt3cap > $OUT/ab-one-sink-minilm-raw.txt
    stop_ab 40 sift-debian bvecs ngtcap > $OUT/ab-one-sink-sift-raw.txt
fi
if [ -n "$BEFORE" ] && [ -n "$AFTER" ]; then
    stop_ab_summary $OUT/ab-one-sink-minilm-raw.txt > $OUT/ab-one-sink-minilm.txt
    stop_ab_summary $OUT/ab-one-sink-sift-raw.txt > $OUT/ab-one-sink-sift.txt
fi
# Not landed either: the walk prefetching the adjacency list only of an offered node that is
# inside the beam, not of one the radius alone admits. BEFORE = b95a160, PREFETCH_IN_BEAM = it
# with that change; 30 rounds beside a `learn-stop` run on the other core.
if [ -n "$BEFORE" ] && [ -n "$PREFETCH_IN_BEAM" ]; then
    AFTER=$PREFETCH_IN_BEAM stop_ab 30 minilm-words-20k fvecs ngt3cap > $OUT/ab-prefetch-in-beam-minilm-raw.txt
    stop_ab_summary $OUT/ab-prefetch-in-beam-minilm-raw.txt > $OUT/ab-prefetch-in-beam-minilm.txt
fi
