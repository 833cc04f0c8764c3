#!/bin/bash
# The oracle within a work budget (ADAPTIVE.md, "The oracle within a work budget"). W: the
# indexes a `bench/adaptive.py --holdout-seed 1 --seed 1 --rounds 1 --rules
# patience,learned,gbdt,epsilon --gbdt-trees 32 --gbdt-rate 0.3 --work W` run left, with the
# models learned again with `--work-cap 0.95` by `bench/work_cap.py --work W --caps 0.95 --rules
# epsilon --rounds 1 --runs 1` (W/SET-cap0.95.gdx); D: the shared data sets.
set -euo pipefail
cargo build --release -p geodex-adaptive --example oracle
O=target/release/examples/oracle
$O "$W/minilm-words-20k-cap0.95.gdx" "$D/minilm-words-20k/query.fvecs" \
    "$W/minilm-words-20k-test-gt.ivecs" 0.9,0.95,0.99 8 > minilm-cap0.95.txt
$O "$W/sift-debian-cap0.95.gdx" "$D/sift-debian/query.bvecs" \
    "$W/sift-debian-test-gt.ivecs" 0.9,0.95,0.99 8 > sift-cap0.95.txt
# The epsilon rule on MiniLM under tighter budgets (work-cap-minilm*.txt, one untimed pass;
# geodex built from 9752abc).
python3 bench/work_cap.py --work "$W" --data "$D" --sets minilm-words-20k:fvecs \
    --caps 0.9,0.85,0.8 --rules epsilon --rounds 1 --runs 1 --out OUT
