#!/usr/bin/env python3
"""A/B of the byte walk (`geodex.Index.byte_walk`): one index, searched one query per call on one
thread with the walk on byte codes (re-ranked exactly) and on the float vectors, the two passes
interleaved `--rounds` times per ef, best pass of each kept; recall@10 of both against the data
set's ground truth.

Usage: python3 bench/byte_walk.py DATA_DIR [--efs 16,32,64,128,256] [--rounds 3]
  DATA_DIR: a TEXMEX set (base.fvecs or base.bvecs, query.*, groundtruth.ivecs); names starting
  with `sift` are searched under l2 (bytes read as float32), others under cosine.
"""

import argparse
import os
import time

import geodex
import numpy as np
from peers import dataset_files, read_vecs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data")
    p.add_argument("--efs", default="16,32,64,128,256")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    base_f, query_f, gt_f, metric = dataset_files(os.path.basename(os.path.normpath(a.data)))
    base = read_vecs(os.path.join(a.data, base_f)).astype(np.float32)
    queries = read_vecs(os.path.join(a.data, query_f)).astype(np.float32)
    truth = read_vecs(os.path.join(a.data, gt_f))[:, :10]
    index = geodex.Index(space=metric, dim=base.shape[1])
    index.init_index(max_elements=len(base), M=16, ef_construction=200, random_seed=42)
    t = time.perf_counter()
    index.add_items(base)
    print(f"{len(base)} x {base.shape[1]} ({metric}) built in {time.perf_counter() - t:.1f} s", flush=True)
    index.set_num_threads(1)
    for _ in range(2):  # past the 512 searches after which the graph is packed for search
        for q in queries[:512]:
            index.knn_query(q, k=10)

    def timed_pass(ef, byte_walk):
        index.byte_walk, index.ef = byte_walk, ef
        t = time.perf_counter()
        found = [index.knn_query(q, k=10)[0][0] for q in queries]
        qps = len(queries) / (time.perf_counter() - t)
        recall = np.mean([len(set(f.tolist()) & set(g.tolist())) / 10 for f, g in zip(found, truth)])
        return qps, recall

    print("ef | float walk QPS (recall) | byte walk QPS (recall) | ratio")
    for ef in map(int, a.efs.split(",")):
        best = {False: (0.0, 0.0), True: (0.0, 0.0)}
        for _ in range(a.rounds):
            for byte_walk in (False, True):
                qps, recall = timed_pass(ef, byte_walk)
                best[byte_walk] = (max(best[byte_walk][0], qps), recall)
        (f, fr), (b, br) = best[False], best[True]
        print(f"{ef} | {f:,.0f} ({fr:.4f}) | {b:,.0f} ({br:.4f}) | {b / f:.2f}x", flush=True)


if __name__ == "__main__":
    main()
