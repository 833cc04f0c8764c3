# Sourced by the interleaved A/B scripts of the PQ4 walk on codes (bench/results/*-link-*/):
# builds, with the binary $AFTER, the four indexes they compare in $W — PQ4 (m 64 on
# sift-debian, m 192 on minilm-words-20k) and the flat ones — and defines `sift` and `minilm`,
# which run a geodex command on that set's queries and ground truth with one search thread, one
# run, quiet. Needs AFTER and W; DATA (the shared data directory) defaults to ../shared/data.
D=${DATA:-../shared/data}
mkdir -p "$W"
$AFTER build --data $D/sift-debian/base.bvecs --metric l2 --out $W/sift-pq4.gdx --quant pq4 --pq-m 64 --quiet
$AFTER build --data $D/minilm-words-20k/base.fvecs --metric cosine --out $W/minilm-pq4.gdx --quant pq4 --pq-m 192 --quiet
$AFTER build --data $D/sift-debian/base.bvecs --metric l2 --out $W/sift-flat.gdx --quiet
$AFTER build --data $D/minilm-words-20k/base.fvecs --metric cosine --out $W/minilm-flat.gdx --quiet
sift() { "$@" --queries $D/sift-debian/query.bvecs --groundtruth $D/sift-debian/groundtruth.ivecs --threads 1 --runs 1 --quiet; }
minilm() { "$@" --queries $D/minilm-words-20k/query.fvecs --groundtruth $D/minilm-words-20k/groundtruth.ivecs --threads 1 --runs 1 --quiet; }
