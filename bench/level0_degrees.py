#!/usr/bin/env python3
"""Level-0 degrees of HNSW over hierarchy embeddings (HYPERBOLIC.md; issue 24, item 4).

HYPERBOLIC.md explained the poor recall of M = 16 on the 82k WordNet nouns in the Poincaré ball
by the neighbour-selection heuristic "leaving few links in tree-like geometry". This measures it
instead: for each (vectors, metric) pair it builds an index (M = `--m`, ef_construction 200,
seed 42), reads the level-0 out- and in-degree histograms from `geodex analyze --only graph`,
and measures recall@10 at a few ef against exact search in the same geometry, with a seeded
sample of the indexed points as queries (each point's own row is its nearest neighbour in both
the index and the ground truth, so it counts as a hit in both).

    python3 bench/level0_degrees.py --set nouns-poincare:/tmp/nouns-p10.fvecs:poincare \\
        --set nouns-euclidean:/tmp/nouns-e10.fvecs:l2 --ball 82115,10,0.9 --m 16,32
    python3 bench/level0_degrees.py --set nouns-keep-pruned:/tmp/nouns-p10.fvecs:poincare \\
        --build-args=--keep-pruned --out OUT2             # the heuristic's pruned links kept

Writes OUT/level0-degrees.{json,md}.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from geodex_cli import build, groundtruth, run, sweep
from peers import read_vecs, write_vecs


def histogram_stats(hist):
    """Mean, median and the share of nodes at degree ≤ 4 of a degree histogram (index = degree)."""
    counts = np.asarray(hist, dtype=np.float64)
    degrees = np.arange(len(counts))
    total = counts.sum()
    cumulative = np.cumsum(counts)
    return {
        "mean": float((degrees * counts).sum() / total),
        "median": int(np.searchsorted(cumulative, total / 2)),
        "share_at_most_4": float(cumulative[min(4, len(counts) - 1)] / total),
        "max": int(degrees[counts > 0].max()),
    }


def uniform_ball(n, dim, radius, seed=7):
    """n points uniform in the ball of `radius` in `dim` dimensions (direction uniform on the
    sphere, radius ∝ U^(1/dim)): hyperbolic space without a hierarchy, the control."""
    rng = np.random.default_rng(seed)
    n, dim = int(n), int(dim)
    x = rng.standard_normal((n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    r = radius * rng.random(n) ** (1 / dim)
    return (x * r[:, None]).astype(np.float32)


def measure(args, label, path, metric, m):
    """Degrees and recall of one index."""
    stem = os.path.join(args.out, f"level0-{label}-m{m}")
    g = args.geodex
    build(g, path, stem + ".gdx", metric, *args.build_args.split(), m=m)
    level0 = json.loads(run([g, "analyze", "--index", stem + ".gdx", "--only", "graph", "--json"]))["graph"][
        "levels"
    ][0]
    vectors = read_vecs(path)
    picked = np.random.default_rng(42).choice(
        len(vectors), size=min(args.queries, len(vectors)), replace=False
    )
    write_vecs(stem + ".q.fvecs", vectors[np.sort(picked)])
    groundtruth(g, path, stem + ".q.fvecs", stem + ".gt.ivecs", metric)
    rows = sweep(g, stem + ".gdx", stem + ".q.fvecs", stem + ".gt.ivecs", args.ef, "--runs", "1")
    for ext in (".gdx", ".q.fvecs", ".gt.ivecs"):
        os.remove(stem + ext)
    out = {
        "set": label,
        "build_args": args.build_args,
        "metric": metric,
        "m": m,
        "nodes": level0["nodes"],
        "out_degree": histogram_stats(level0["out_degree"]["histogram"]),
        "in_degree": histogram_stats(level0["in_degree"]["histogram"]),
        "recall": {str(r["ef"]): r["recall"] for r in rows},
        "distances": {str(r["ef"]): r["mean_distances"] for r in rows},
    }
    print(f"  {out}", file=sys.stderr, flush=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", action="append", help="LABEL:VECTORS:METRIC (repeatable)")
    p.add_argument(
        "--ball",
        help="N,D,R: add a control — N points uniform in the ball of radius R in D dimensions (seed 7), "
        "indexed under the Poincaré metric and under L2",
    )
    p.add_argument("--m", default="16")
    p.add_argument("--build-args", default="", help="extra `geodex build` flags, e.g. --keep-pruned")
    p.add_argument("--ef", default="10,64")
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = []
    specs = list(args.set or [])
    if args.ball:
        path = os.path.join(args.out, "ball.fvecs")
        write_vecs(path, uniform_ball(*[float(x) for x in args.ball.split(",")]))
        specs += [f"ball-poincare:{path}:poincare", f"ball-euclidean:{path}:l2"]
    for spec in specs:
        label, path, metric = spec.rsplit(":", 2)
        for m in [int(x) for x in args.m.split(",")]:
            results.append(measure(args, label, path, metric, m))
    with open(os.path.join(args.out, "level0-degrees.json"), "w") as f:
        json.dump(results, f, indent=2)
    efs = args.ef.split(",")
    lines = [
        "| set | metric | M | level-0 slots | out-degree mean / median | share ≤ 4 | in-degree max | "
        + " | ".join(f"recall@10 ef {e}" for e in efs)
        + " |",
        "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(efs),
    ]
    for r in results:
        o = r["out_degree"]
        lines.append(
            f"| {r['set']} | {r['metric']} | {r['m']} | {2 * r['m']} | {o['mean']:.1f} / {o['median']} | "
            f"{o['share_at_most_4']:.1%} | {r['in_degree']['max']} | "
            + " | ".join(f"{r['recall'][e]:.3f}" for e in efs)
            + " |"
        )
    with open(os.path.join(args.out, "level0-degrees.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
