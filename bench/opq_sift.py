#!/usr/bin/env python3
"""Does a learned rotation (OPQ, Ge et al., CVPR 2013) make a better 32-byte code for SIFT?

Issue 20's walk on PQ4 codes (m 64, 32 bytes a vector) needs more expansions than the flat index
on sift-debian because its codes rank neighbours worse; OPQ was the next lever named. Before
building it, this checks the lever with FAISS's own implementation (an independent one): for
each code of 32 bytes (and PQ4 m 128, 64 bytes, as the reference that walks as well as the exact
vectors), the exhaustive ADC ranking's recall of the true 10 nearest among its first k
(10, 32, 64: the walk's beam widths), the mean squared reconstruction error, and training time.

Usage: opq_sift.py DATA_DIR [--threads 2] [--codes 'PQ64x4;OPQ64/id,PQ64x4']   (DATA_DIR holds base.bvecs, query.bvecs,
groundtruth.ivecs; needs numpy and faiss-cpu)
"""

import argparse
import time

import faiss
import numpy as np
from peers import read_vecs

CODES = ["PQ64x4", "OPQ64,PQ64x4", "OPQ64/id,PQ64x4", "PQ32", "OPQ32,PQ32", "OPQ32/id,PQ32", "PQ128x4"]


def make(name: str, dim: int) -> faiss.Index:
    """FAISS's index for a factory string, or for "OPQm/id,PQmxB": OPQ started from the identity
    (the data's own order) and trained with the B-bit PQ it serves. FAISS's `OPQm` starts from a
    random rotation and trains with an 8-bit PQ whatever the PQ after it."""
    if "/id," not in name:
        return faiss.index_factory(dim, name)
    m = int(name[3 : name.index("/")])
    bits = 4 if name.endswith("x4") else 8
    rotation = faiss.OPQMatrix(dim, m)
    faiss.copy_array_to_vector(np.eye(dim, dtype=np.float32).ravel(), rotation.A)
    training_pq = faiss.ProductQuantizer(dim, m, bits)
    rotation.pq = training_pq
    index = faiss.IndexPreTransform(rotation, faiss.IndexPQ(dim, m, bits))
    make.keep.append((training_pq, rotation, index))  # SWIG does not own these: keep them alive
    return index


make.keep: list = []


def recall_at(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:10])) / 10 for f, t in zip(found, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--codes", default=";".join(CODES), help="codes separated by ';' (default: all)")
    args = parser.parse_args()
    faiss.omp_set_num_threads(args.threads)
    base = read_vecs(f"{args.data}/base.bvecs").astype(np.float32)
    queries = read_vecs(f"{args.data}/query.bvecs").astype(np.float32)
    truth = read_vecs(f"{args.data}/groundtruth.ivecs")
    print("code            bytes  train_s      mse  recall10@10  @32   @64")
    for name in args.codes.split(";"):
        index = make(name, base.shape[1])
        start = time.time()
        index.train(base)
        seconds = time.time() - start
        index.add(base)
        _, found = index.search(queries, 64)
        mse = float(np.mean(np.sum((index.reconstruct_n(0, base.shape[0]) - base) ** 2, axis=1)))
        recalls = " ".join(f"{recall_at(found, truth, k):.4f}" for k in (10, 32, 64))
        print(f"{name:15s} {index.sa_code_size():5d} {seconds:8.1f} {mse:8.0f}  {recalls}")


if __name__ == "__main__":
    main()
