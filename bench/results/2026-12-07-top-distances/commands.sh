#!/bin/bash
# Where the epsilon rule's tax at equal work goes, and one try at removing it (not landed).
# Run from the repository root. W: the indexes and models of a `bench/adaptive.py
# --holdout-seed 1 --seed 1` run (SET.gdx) and of `bench/work_cap.py --caps 0.95`
# (SET-cap0.95.gdx), learned by e57ecca. One search thread, a quiet machine.
#
# 0. Probes (probes-raw.txt, probes.txt): e57ecca with probes.patch applied, whose `radius`
# variant of examples/hook_cost.rs runs, by GEODEX_PROBE, the rule path with NoStop (9), or a
# stopper with one of Radius's hooks: the budget and queue test after each expansion (4), the
# widened reach and queue bound read from fields (3), the top-k insertion out of line (1) or
# inlined (2), or Radius itself (0); two processes of 25 rounds each:
#   git apply probes.patch && cargo build --release -p geodex-adaptive --example hook_cost
#   for rep in 1 2; do for P in 0 9 1 2 3 4; do for s in sift-debian:bvecs minilm-words-20k:fvecs; do
#     IFS=: read -r set ext <<< "$s"; GEODEX_PROBE=$P target/release/examples/hook_cost \
#     $W/$set.gdx $D/$set/query.$ext $W/$set-test-gt.ivecs 0.9,0.95,0.99 25 |
#     awk -v p=$P -v s=$set '$4 == "radius" { print s, "probe", p, $1, $2, $6, $8 }'; done; done; done
#
# Then the top k as k distances with a branch-free insertion (branch-free-top.patch on
# e57ecca: SmallestDistances in stop.rs, min(a[i], max(a[i-1], d)) per slot, with a proptest
# against a sort). BEFORE/AFTER: geodex binaries of e57ecca and of the patch; HOOK_BEFORE/
# HOOK_AFTER: their examples/hook_cost builds.
set -e
OUT=bench/results/2026-12-07-top-distances W=${W:-/tmp/wcap} D=${D:-../shared/data}
# 1. The rule's state at equal work (ε beyond EPSILON_MAX: a plain beam search of fixed ef's
# width through every hook of Radius; the example fails unless results and work are equal):
# before and after, alternating, six processes each (two batches of three), 25 rounds per process.
for rep in 1 2 3 4 5 6; do
    for side in before after; do
        bin=$HOOK_BEFORE
        [ $side = after ] && bin=$HOOK_AFTER
        for s in sift-debian:bvecs minilm-words-20k:fvecs; do
            IFS=: read -r set ext <<< "$s"
            $bin $W/$set.gdx $D/$set/query.$ext $W/$set-test-gt.ivecs 0.9,0.95,0.99 25 |
                awk -v side=$side -v set=$set '$4 == "radius" { print set, side, $1, $2, $6, $8 }'
        done
    done
done > $OUT/hook-radius-raw.txt
python3 - $OUT/hook-radius-raw.txt > $OUT/hook-radius.txt <<'PY'
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    s, side, t, ef, med, best = line.split()
    d[(s, t, side)].append(float(med.rstrip("%")))
print("radius excess over fixed ef, per process (6 each, 25 rounds): before (e57ecca) | after (branch-free top k) | medians")
for s, t in sorted({(k[0], k[1]) for k in d}):
    b, a = d[(s, t, "before")], d[(s, t, "after")]
    print(f"{s:16} {t:5} {' '.join(f'{x:+5.1f}' for x in b)} | {' '.join(f'{x:+5.1f}' for x in a)}"
          f" | {st.median(b):+5.1f} -> {st.median(a):+5.1f}")
PY
# 2. Fixed ef and the epsilon rule (budget 0.95), before and after, interleaved.
. bench/stop_rounds.sh
stop_ab 40 sift-debian bvecs cap0.95 > $OUT/ab-sift-raw.txt
stop_ab 40 minilm-words-20k fvecs cap0.95 > $OUT/ab-minilm-raw.txt
stop_ab_summary $OUT/ab-sift-raw.txt > $OUT/ab-sift.txt
stop_ab_summary $OUT/ab-minilm-raw.txt > $OUT/ab-minilm.txt
# The same rounds as ratios to fixed ef at each target (the p99 target of issue 17), against
# each of the two code-identical fixed-ef binaries: AFTER's (vs-fixed-SET.txt) and BEFORE's
# (vs-fixed-before-SET.txt).
for set in sift minilm; do
    sed 's/^fixed-after /fixed /' $OUT/ab-$set-raw.txt > /tmp/ab-$set-named.txt
    stop_summary /tmp/ab-$set-named.txt fixed eps-before eps-after > $OUT/vs-fixed-$set.txt
    sed 's/^fixed-before /fixed /' $OUT/ab-$set-raw.txt > /tmp/ab-$set-named.txt
    stop_summary /tmp/ab-$set-named.txt fixed eps-before eps-after > $OUT/vs-fixed-before-$set.txt
done
