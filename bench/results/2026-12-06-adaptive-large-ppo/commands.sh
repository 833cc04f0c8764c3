#!/bin/bash
# Issue 17: the PPO stopping policy beside the other rules on MiniLM at 276,446 words (ADAPTIVE.md,
# "At full size"): the last 2,000 base rows held out as learning queries, the index built on the
# rest (two build threads, so a different graph from 2026-12-03's run), 1,000 test queries, one
# search thread, one round (work and recall are deterministic for an index; QPS is not compared:
# other runs shared the cores), then fixed ef swept finely for the equal-recall comparison.
# Run from the repository root; D = where the set goes, W = work directory (indexes).
set -e
OUT=bench/results/2026-12-06-adaptive-large-ppo/minilm-277k
D=${D:-/tmp/data}
W=${W:-/tmp/adaptive-large}
python3 ../shared/data/make/make_minilm_words.py $D/minilm-277k --n-base 276446
cargo build --release -q -p geodex-cli
mkdir -p $OUT
python3 bench/adaptive.py --out $OUT --data $D --sets minilm-277k:cosine \
    --rules patience,ada,learned,gbdt,ppo --gbdt-trees 32 --gbdt-rate 0.3 --rounds 1 \
    --sweep-ef "$(cat bench/results/2026-12-03-adaptive-large/minilm-277k/efs)" --work $W | tee $OUT/summary.txt
python3 bench/equal_recall.py $OUT/adaptive.json $OUT/minilm-277k-fixed-sweep.txt | tee $OUT/equal-recall.txt
