"""Python overhead of one `knn_query` call, geodex against hnswlib (issue 16, item 4).

Both indexes hold a handful of vectors, so a search costs next to nothing and what is timed is
the call itself: argument parsing, the query array's view, releasing the GIL, the two result
arrays. One process, the two systems' passes interleaved (A B A B …), best pass per system.

Usage: python3 bench/call_overhead.py [--dim 128] [--calls 20000] [--passes 7]
"""

import argparse
import time

import geodex
import hnswlib
import numpy as np


def index_of(module, dim, rows):
    index = module.Index(space="l2", dim=dim)
    index.init_index(max_elements=len(rows), M=16, ef_construction=50, random_seed=1)
    index.add_items(rows, np.arange(len(rows)))
    index.set_ef(10)
    index.set_num_threads(1)
    return index


def one_pass(index, queries):
    start = time.perf_counter()
    for q in queries:
        index.knn_query(q, k=1)
    return (time.perf_counter() - start) / len(queries)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--passes", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((8, a.dim)).astype(np.float32)
    queries = list(rng.standard_normal((a.calls, a.dim)).astype(np.float32))
    systems = {"geodex": index_of(geodex, a.dim, rows), "hnswlib": index_of(hnswlib, a.dim, rows)}
    best = {name: float("inf") for name in systems}
    for _ in range(a.passes):
        for name, index in systems.items():
            best[name] = min(best[name], one_pass(index, queries))
    for name, seconds in best.items():
        print(f"{name:8} {seconds * 1e6:6.2f} µs per knn_query call (best of {a.passes} passes)")
    print(f"geodex / hnswlib: {best['geodex'] / best['hnswlib']:.2f}×")


if __name__ == "__main__":
    main()
