#!/usr/bin/env bash
# Load test of `geodex serve` beside the same searches in process (issue 19), on both shared
# sets: starts a release server on a free port, runs crates/geodex-server/examples/load.rs
# (search-only with 8 clients, then 7 searching + 1 upserting, then search-only with 16
# searches per request, then by stored point id), prints JSON lines.
# Usage: bench/serve_load.sh [SHARED_DATA_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
seconds=${2:-10}
cargo build --release --quiet -p geodex-cli
cargo build --release --quiet -p geodex-server --example load
dir=$(mktemp -d)
target/release/geodex serve --data-dir "$dir" --port 0 --quiet > "$dir/stdout" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
until grep -q "listening on" "$dir/stdout" 2>/dev/null; do sleep 0.1; done
url=$(sed -n 's/.*listening on //p' "$dir/stdout")
run() { target/release/examples/load --url "$url" --seconds "$seconds" "$@"; }
sift=(--base "$data/sift-debian/base.bvecs" --queries "$data/sift-debian/query.bvecs" --distance Euclid)
minilm=(--base "$data/minilm-words-20k/base.fvecs" --queries "$data/minilm-words-20k/query.fvecs" --distance Cosine)
for writers in 0 1; do
  run "${sift[@]}" --writers $writers
  run "${minilm[@]}" --writers $writers
done
# The same searches, 16 to a request (query/batch); then searches that name a stored point
# instead of carrying its vector (no floats to parse), one and 16 to a request.
for mode in "--batch 16" "--by-id" "--by-id --batch 16"; do
  run "${sift[@]}" $mode
  run "${minilm[@]}" $mode
done
