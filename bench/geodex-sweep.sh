#!/usr/bin/env bash
# Reproduces the geodex-only entries of BENCHMARKS.md: build (M=16, ef_construction=200, all
# cores) and a single-threaded ef sweep on sift-debian (100k, u8, L2) and minilm-words-20k
# (384-d, cosine), with the shared ground truth. Results land in $OUT (default bench/out/).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${DATA:-$here/../shared/data}"
out="${OUT:-$here/bench/out}"
mkdir -p "$out"
cargo build --quiet --release --manifest-path "$here/Cargo.toml" -p geodex-cli
geodex="$here/target/release/geodex"
efs="10,16,32,64,128,256,512"
run() { # name data queries groundtruth metric
  local name=$1
  /usr/bin/time -f "%e s wall, %M KiB max RSS" -o "$out/$name.build-time" \
    "$geodex" build --data "$2" --out "$out/$name.gdx" --metric "$5" --m 16 --ef-construction 200 --json --quiet \
    > "$out/$name.build.json"
  "$geodex" info --index "$out/$name.gdx" --json > "$out/$name.info.json"
  "$geodex" bench --index "$out/$name.gdx" --queries "$3" --groundtruth "$4" --k 10 --ef "$efs" \
    --threads 1 --runs 3 --csv "$out/$name.csv" --plot "$out/$name.png" --quiet | tee "$out/$name.table"
  echo "$name build: $(cat "$out/$name.build-time")"
}
run sift-debian "$data/sift-debian/base.bvecs" "$data/sift-debian/query.bvecs" "$data/sift-debian/groundtruth.ivecs" l2
run minilm-words-20k "$data/minilm-words-20k/base.fvecs" "$data/minilm-words-20k/query.fvecs" "$data/minilm-words-20k/groundtruth.ivecs" cosine
