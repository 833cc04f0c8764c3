#!/bin/bash
# Issue 17: the PPO stopping policy beside the other rules at full size (ADAPTIVE.md, "At full
# size"): MiniLM at 276,446 words and every SIFT photo (323,300 vectors), the last 2,000 base rows
# held out as learning queries, the index built on the rest (two build threads, so a different
# graph from 2026-12-03's run), 1,000 test queries (SIFT's from other photos), one search thread,
# one round (work and recall are deterministic for an index; QPS is not compared: other runs
# shared the cores), then fixed ef swept finely for the equal-recall comparison.
# Run from the repository root; D = where the sets go, W = work directory (indexes).
set -e
OUT=bench/results/2026-12-06-adaptive-large-ppo
OLD=bench/results/2026-12-03-adaptive-large
D=${D:-/tmp/data}
W=${W:-/tmp/adaptive-large}
python3 ../shared/data/make/make_minilm_words.py $D/minilm-277k --n-base 276446
python3 ../shared/data/make/make_sift.py $D/sift-max 1000000 42 --jobs 2
cargo build --release -q -p geodex-cli
for s in minilm-277k:cosine:minilm-277k:minilm-277k sift-max:l2:sift-323k:sift-323k; do
    IFS=: read -r dir metric name old <<< "$s"
    mkdir -p $OUT/$name
    python3 bench/adaptive.py --out $OUT/$name --data $D --sets $dir:$metric \
        --rules patience,ada,learned,gbdt,ppo --gbdt-trees 32 --gbdt-rate 0.3 --rounds 1 \
        --sweep-ef "$(cat $OLD/$old/efs)" --work $W | tee $OUT/$name/summary.txt
    python3 bench/equal_recall.py $OUT/$name/adaptive.json $OUT/$name/$dir-fixed-sweep.txt \
        | tee $OUT/$name/equal-recall.txt
done
