#!/bin/bash
# Issue 17: what a stopping rule should predict (ADAPTIVE.md, "What the rule should predict").
# Both shared sets with their last 2,000 base rows held out as learning queries (as
# bench/adaptive.py does without a disjoint MiniLM word set), the default index, a stop model
# from `geodex learn-stop`, then the Rust replay of the linear predictors and the Python one of
# gradient-boosted predictors on the same traces. Usage: commands.sh WORK (run from the
# repository root; DATA defaults to ../shared/data; needs numpy, pandas, scikit-learn).
set -e
W=${1:?work directory}
G=${G:-target/release/geodex}
DATA=${DATA:-../shared/data}
OUT=${OUT:-$(dirname "$0")}
mkdir -p "$W"
cargo build --release -q -p geodex-cli -p geodex-adaptive --bin geodex --example stop_gain
python3 - "$DATA" "$W" <<'PY'
import sys
import numpy as np
data, work = sys.argv[1:]
for name, ext, dtype in [("sift-debian", "bvecs", "u1"), ("minilm-words-20k", "fvecs", "<f4")]:
    raw = np.fromfile(f"{data}/{name}/base.{ext}", dtype=np.uint8)
    dim = int(np.frombuffer(raw[:4].tobytes(), "<i4")[0])
    rows = raw.reshape(-1, 4 + dim * np.dtype(dtype).itemsize)
    rows[:-2000].tofile(f"{work}/{name}-base.{ext}")
    rows[-2000:].tofile(f"{work}/{name}-learn.{ext}")
PY
for set in "sift-debian bvecs l2" "minilm-words-20k fvecs cosine"; do
    read -r name ext metric <<< "$set"
    $G build --data $W/$name-base.$ext --metric $metric --out $W/$name.gdx --quiet
    for q in test learn; do
        queries=$W/$name-learn.$ext
        [ $q = test ] && queries=$DATA/$name/query.$ext
        $G groundtruth --data $W/$name-base.$ext --queries $queries --k 100 --metric $metric \
            --out $W/$name-$q-gt.ivecs --quiet
    done
    $G learn-stop --index $W/$name.gdx --queries $W/$name-learn.$ext \
        --groundtruth $W/$name-learn-gt.ivecs --target-recall 0.9,0.95,0.99 --seed 42 --json \
        > $W/$name-learn-stop.json
    STOP_GAIN_DUMP=$W/$name target/release/examples/stop_gain $W/$name.gdx \
        $W/$name-learn.$ext $W/$name-learn-gt.ivecs $DATA/$name/query.$ext $W/$name-test-gt.ivecs \
        0.9,0.95,0.99 4 | tee $OUT/$name-linear.txt
done
python3 bench/stop_gain_gbdt.py $W/sift-debian $W/minilm-words-20k | tee $OUT/gbdt.txt
