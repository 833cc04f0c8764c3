#!/bin/bash
# Helpers for timing stopping rules in interleaved rounds, sourced by bench/results/*/commands.sh
# (W: indexes and models, D: the data sets). One search thread, three passes per process, targets
# 0.9, 0.95 and 0.99; each output line: variant target recall QPS mean-distances p99-µs.

# stop_rounds ROUNDS SET EXT "NAME BINARY INDEX RULE"...: every variant once per round, in order;
# INDEX is a file name under $W without .gdx.
stop_rounds() {
    local rounds=$1 set=$2 ext=$3
    shift 3
    local variants=("$@") v name bin index rule
    for _ in $(seq "$rounds"); do
        for v in "${variants[@]}"; do
            read -r name bin index rule <<< "$v"
            "$bin" bench --index "$W/$index.gdx" --queries "$D/$set/query.$ext" \
                --groundtruth "$W/$set-test-gt.ivecs" --k 10 --target-recall 0.9,0.95,0.99 \
                --stop "$rule" --threads 1 --runs 3 --quiet |
                awk -v v="$name" 'NR > 1 && $1 ~ /^[0-9]/ { print v, $1, $3, $4, $5, $8 }'
        done
    done
}

# stop_summary FILE NAME...: per target, each variant's median QPS and p99 ÷ the variant "fixed".
stop_summary() { stop_report ratio "$@"; }

# stop_ab ROUNDS SET EXT MODEL: fixed ef and the epsilon rule (index SET-MODEL) on $BEFORE and
# $AFTER, interleaved.
stop_ab() {
    stop_rounds "$1" "$2" "$3" "fixed-before $BEFORE $2 fixed" "fixed-after $AFTER $2 fixed" \
        "eps-before $BEFORE $2-$4 epsilon" "eps-after $AFTER $2-$4 epsilon"
}

# stop_ab_summary FILE: per target and rule, median QPS and p99 after ÷ before.
stop_ab_summary() { stop_report ab "$1"; }

# stop_report ratio|ab FILE [NAME...]: the two summaries above, from one reader.
stop_report() {
    python3 - "$@" <<'PY'
import collections, statistics as st, sys
mode, path, names = sys.argv[1], sys.argv[2], sys.argv[3:]
d = collections.defaultdict(list)
for line in open(path):
    v, t, rec, qps, dist, p99 = line.split()
    d[(t, v)].append((float(qps), float(p99), float(rec), float(dist)))
med = lambda xs, i: st.median(x[i] for x in xs)
for t in sorted({k[0] for k in d}):
    if mode == "ratio":
        fq, fp = med(d[(t, "fixed")], 0), med(d[(t, "fixed")], 1)
        width = max(map(len, names)) + 1
        for v in names:
            xs = d[(t, v)]
            q, p = med(xs, 0), med(xs, 1)
            print(f"{t} {v:<{width}} recall {xs[0][2]:.4f} dist {xs[0][3]:7.1f} QPS {q:8.0f} ({q/fq:.3f})"
                  f" p99us {p:6.1f} ({p/fp:.3f}) n={len(xs)}")
        continue
    for rule in ["fixed", "eps"]:
        b, a = d[(t, rule + "-before")], d[(t, rule + "-after")]
        qb, qa, pb, pa = med(b, 0), med(a, 0), med(b, 1), med(a, 1)
        print(f"{t} {rule:<5} recall {b[0][2]:.4f}/{a[0][2]:.4f} dist {b[0][3]:.1f}/{a[0][3]:.1f}"
              f" QPS {qb:.0f} -> {qa:.0f} ({qa/qb:.3f}) p99 {pb:.1f} -> {pa:.1f} ({pa/pb:.3f})"
              f" n={len(b)}")
PY
}
