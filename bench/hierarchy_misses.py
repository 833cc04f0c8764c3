#!/usr/bin/env python3
"""Where a Poincaré hierarchy embedding loses reconstruction MAP (issue 22 item 1).

Recomputes the closure MAP of Nickel & Kiela (2017) on a seeded node sample with NumPy, apart
from `geodex embed-eval` (a second implementation of the same measure), and breaks it down: by
leaf / internal node, by depth (number of ancestors), which non-ancestors outrank a node's
farthest ancestor (descendants or not), and how many points sit on the trainer's boundary.

    python3 bench/hierarchy_misses.py --embedding nouns.fvecs --names nouns.names \
        --edges noun_closure.tsv --sample 2000 --boundary-eps 1e-5
"""

import argparse
import collections
import json

import numpy as np


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    dim = raw[0]
    return raw.view(np.float32).reshape(-1, dim + 1)[:, 1:].astype(np.float64)


def read_closure(edges, names):
    row = {n: i for i, n in enumerate(names)}
    ancestors = collections.defaultdict(set)
    with open(edges) as f:
        for line in f:
            child, ancestor = line.rstrip("\n").split("\t")[:2]
            ancestors[row[child]].add(row[ancestor])
    return ancestors


def node_stats(x, squares, ancestors, u):
    """AP of u's ancestors among all other nodes by Poincaré distance, and the non-ancestors
    nearer than u's farthest ancestor (with how many of them are u's descendants)."""
    gap = (1 - squares) * (1 - squares[u])
    distance = np.arccosh(1 + 2 * ((x - x[u]) ** 2).sum(1) / gap)
    distance[u] = np.inf
    mine = np.array(sorted(ancestors[u]))
    ranks = np.empty(len(distance), dtype=np.int64)
    ranks[np.argsort(distance, kind="stable")] = np.arange(1, len(distance) + 1)
    sorted_ranks = np.sort(ranks[mine])
    ap = float(np.mean(np.arange(1, len(mine) + 1) / sorted_ranks))
    ahead = [w for w in np.flatnonzero(distance < distance[mine].max()) if w not in ancestors[u]]
    descendants = sum(1 for w in ahead if u in ancestors[w])
    return ap, len(mine), len(ahead), descendants


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedding", required=True, help="fvecs, ball coordinates")
    p.add_argument("--names", required=True)
    p.add_argument("--edges", required=True, help="closure TSV")
    p.add_argument("--sample", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--boundary-eps", type=float, default=1e-5, help="the trainer's 1 - max norm")
    a = p.parse_args()
    with open(a.names) as f:
        names = [line.rstrip("\n") for line in f]
    x = read_fvecs(a.embedding)
    ancestors = read_closure(a.edges, names)
    has_children = {v for s in ancestors.values() for v in s}
    nodes = [u for u in range(len(names)) if ancestors[u]]
    sample = np.random.default_rng(a.seed).choice(nodes, min(a.sample, len(nodes)), replace=False)
    squares = (x**2).sum(1)
    stats = [node_stats(x, squares, ancestors, u) for u in sample]
    ap = np.array([s[0] for s in stats])
    depth = np.array([s[1] for s in stats])
    leaf = np.array([u not in has_children for u in sample])
    ahead = sum(s[2] for s in stats)
    gap = 1 - np.sqrt(squares)
    by_depth = {}
    for lo, hi in [(1, 3), (4, 6), (7, 9), (10, 12), (13, 99)]:
        m = (depth >= lo) & (depth <= hi)
        if m.any():
            by_depth[f"{lo}-{hi}"] = {"nodes": int(m.sum()), "map": float(ap[m].mean())}
    report = {
        "map": float(ap.mean()),
        "nodes": len(sample),
        "leaf_share": float(leaf.mean()),
        "map_leaves": float(ap[leaf].mean()),
        "map_internal": float(ap[~leaf].mean()) if (~leaf).any() else None,
        "map_by_ancestor_count": by_depth,
        "median_ahead_of_farthest_ancestor": float(np.median([s[2] for s in stats])),
        "descendant_share_of_those_ahead": sum(s[3] for s in stats) / max(1, ahead),
        "share_on_boundary": float((gap <= 1.2 * a.boundary_eps).mean()),
        "median_boundary_gap": float(np.median(gap)),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
