#!/bin/bash
# Issue 20 item 3 on an Intel Xeon guest (family 6 model 207, AVX-512): the protocol of
# bench/results/2026-12-04-walk-amd/commands.sh run twice (each run builds its own indexes with
# bench/pq4_walk_setup.sh), then bench/walk_ab.py on each raw file. Run from the repository root.
set -e
GEODEX=${1:-target/release/geodex}
OUT=bench/results/2026-12-06-walk-intel
bash bench/results/2026-12-04-walk-amd/commands.sh $GEODEX /tmp/lc > $OUT/ab.txt
bash bench/results/2026-12-04-walk-amd/commands.sh $GEODEX /tmp/lc > $OUT/ab-2.txt
python3 bench/walk_ab.py $OUT/ab.txt
python3 bench/walk_ab.py $OUT/ab-2.txt
