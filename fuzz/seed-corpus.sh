#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ with valid inputs, so mutations start from real files.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p fuzz/corpus/{index,fvecs,bvecs,ivecs,npy,hdf5}
cp testdata/golden-v1.gdx fuzz/corpus/index/
# A small index with compressed level-0 links (section 12), so mutations reach its decoder.
cargo run --quiet --release -p geodex-cli -- build --data testdata/sift20k/base.bvecs --limit 200 \
  --m 4 --links compressed --threads 1 --quiet --out fuzz/corpus/index/compressed.gdx > /dev/null
# A RaBitQ index (codebook of centres and rotation, codes with centre and factors).
cargo run --quiet --release -p geodex-cli -- build --data testdata/sift20k/base.bvecs --limit 300 \
  --m 4 --quant rabitq:2 --threads 1 --quiet --out fuzz/corpus/index/rabitq.gdx > /dev/null
head -c 1320 testdata/sift20k/query.bvecs > fuzz/corpus/bvecs/ten.bvecs
head -c 2020 testdata/sift20k/groundtruth.ivecs > fuzz/corpus/ivecs/five.ivecs
python3 - <<'PY'
import struct
rows = [[float(i * 4 + j) / 7 for j in range(4)] for i in range(5)]
with open("fuzz/corpus/fvecs/five.fvecs", "wb") as f:
    for r in rows:
        f.write(struct.pack("<i4f", 4, *r))
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 4), }"
hdr += " " * (64 - (10 + len(hdr) + 1) % 64) + "\n"
with open("fuzz/corpus/npy/five.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    for r in rows:
        f.write(struct.pack("<4f", *r))
PY
cargo run --quiet -p geodex-io --example make_hdf5 -- fuzz/corpus/hdf5/tiny.hdf5
cp testdata/hdf5/h5py-*.hdf5 fuzz/corpus/hdf5/
