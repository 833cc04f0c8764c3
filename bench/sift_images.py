#!/usr/bin/env python3
"""Which photo each sift-debian base row comes from, for learning queries from unseen photos.

sift-debian's test queries are descriptors of photos none of whose descriptors are in the base;
base rows held out as learning queries have descriptors of their own photo in the base, which
can make them easier than the test queries (ADAPTIVE.md measures both kinds of learning set). Holding out whole photos instead needs each base row's photo, which the
set does not store (its base is a shuffled draw of every base photo's descriptors). This
re-extracts the descriptors of every base photo listed in the set's `images.tsv` with the data
generator's own `extract` (same OpenCV SIFT, same resizing and rounding), maps each base row to
the first photo (in `images.tsv` order) holding that exact descriptor — the generator keeps a
descriptor's first copy — and writes `image_of_row.npy` (int32 per base row, −1 where no photo
holds the row: another OpenCV build can round a few descriptors differently) and
`image_names.txt` (the photos' paths, one per index).

    python3 bench/sift_images.py --set ../shared/data/sift-debian \
        --generator ../shared/data/make/make_sift.py --out /tmp/sift-images
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from adaptive import read_vecs


def load_generator(path: Path):
    spec = importlib.util.spec_from_file_location("make_sift", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_sift"] = module  # the worker processes find `extract` by module name
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", required=True, type=Path, help="the TEXMEX directory (base.bvecs, images.tsv)")
    ap.add_argument("--generator", required=True, type=Path, help="make_sift.py of the data generators")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    gen = load_generator(args.generator)
    with open(args.set / "images.tsv") as f:
        photos = [(r["package"], r["path"]) for r in csv.DictReader(f, delimiter="\t") if r["role"] == "base"]
    with Pool(args.jobs) as pool:
        extracted = pool.map(gen.extract, photos, chunksize=4)
    first_photo: dict[bytes, int] = {}
    for i, (_, _, d, _) in enumerate(extracted):
        for row in d if d is not None else []:
            first_photo.setdefault(row.tobytes(), i)
    base = read_vecs(args.set / "base.bvecs", "u1")
    image_of_row = np.array([first_photo.get(row.tobytes(), -1) for row in base], dtype=np.int32)
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "image_of_row.npy", image_of_row)
    (args.out / "image_names.txt").write_text("".join(f"{path}\n" for _, path in photos))
    matched = int((image_of_row >= 0).sum())
    print(
        f"{matched} of {len(base)} base rows matched to {len(np.unique(image_of_row[image_of_row >= 0]))} photos"
    )


if __name__ == "__main__":
    main()
