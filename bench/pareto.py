#!/usr/bin/env python3
"""The space–time–accuracy frontier (THEORY §2.1): recall@10 against queries per second against
resident bytes per vector, over every kind of index geodex builds, on one data set.

For each index kind (flat, SQ8, PQ8 and PQ4 at two code sizes, orthogonal projections at two
dimensions; SQ8 only for float data, where it is not the identity) the script builds the index
(`geodex build`, M = 16, ef_construction = 200, seed 42), reads its resident bytes from
`geodex info --json` (`ram_bytes`: what must stay in memory to search it), and sweeps ef × the
re-rank depth with `geodex bench` (one search thread, the fastest of `--runs` runs per point).

Bytes per vector of a point: ram_bytes / N, plus the full vector (d × its element size) when the
point re-ranks — re-ranking reads the stored vectors, so they must be resident too (until they
live on disk, the ten-million issue's item 5). Links are included: they are most of a
compressed index.

The frontier: a point is on it when no other point has recall ≥, QPS ≥ and bytes ≤ with one
of them strictly better (the 3-D Pareto set). For a reader with a recall target the script also
draws, per target, every point that reaches it (QPS against bytes) and their 2-D frontier: the
fastest index for each memory budget at that recall. QPS is compared only within one run (these machines are noisy).

    python3 bench/pareto.py --data sift-debian
    python3 bench/pareto.py --data minilm-words-20k

Writes OUT/pareto-NAME.{csv,json,png} and prints the frontier.
"""

import argparse
import csv
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from geodex_cli import build, run, sweep

SHARED = os.path.join(REPO, "..", "shared", "data")
EFS = "10,16,24,32,48,64,96,128,192,256"
RERANKS = (0, 20, 50, 100)
TARGETS = (0.7, 0.8, 0.9, 0.95, 0.99)

# name: (metric, base file, query file, element bytes, kinds); a kind is (label, build arguments)
SETS = {
    "sift-debian": (
        "l2",
        "base.bvecs",
        "query.bvecs",
        1,
        [
            ("flat u8", []),
            ("pq8 m=32 (32 B)", ["--quant", "pq8", "--pq-m", "32"]),
            ("pq8 m=16 (16 B)", ["--quant", "pq8", "--pq-m", "16"]),
            ("pq4 m=64 (32 B)", ["--quant", "pq4", "--pq-m", "64"]),
            ("pq4 m=32 (16 B)", ["--quant", "pq4", "--pq-m", "32"]),
            ("proj-orth k=64 (256 B)", ["--quant", "proj-orth", "--proj-k", "64"]),
            ("proj-orth k=32 (128 B)", ["--quant", "proj-orth", "--proj-k", "32"]),
        ],
    ),
    "minilm-words-20k": (
        "cosine",
        "base.fvecs",
        "query.fvecs",
        4,
        [
            ("flat f32", []),
            ("sq8 (384 B)", ["--quant", "sq8"]),
            ("pq8 m=96 (96 B)", ["--quant", "pq8", "--pq-m", "96"]),
            ("pq8 m=48 (48 B)", ["--quant", "pq8", "--pq-m", "48"]),
            ("pq4 m=192 (96 B)", ["--quant", "pq4", "--pq-m", "192"]),
            ("pq4 m=96 (48 B)", ["--quant", "pq4", "--pq-m", "96"]),
            ("proj-orth k=192 (768 B)", ["--quant", "proj-orth", "--proj-k", "192"]),
            ("proj-orth k=96 (384 B)", ["--quant", "proj-orth", "--proj-k", "96"]),
        ],
    ),
}


def dominated(p, q):
    """Whether q dominates p: at least as good in recall, QPS and bytes, strictly better in one."""
    ge = (
        q["recall"] >= p["recall"] and q["qps"] >= p["qps"] and q["bytes_per_vector"] <= p["bytes_per_vector"]
    )
    gt = q["recall"] > p["recall"] or q["qps"] > p["qps"] or q["bytes_per_vector"] < p["bytes_per_vector"]
    return ge and gt


def pareto(points):
    """The points no other point dominates (O(n²); a few hundred points)."""
    return [p for p in points if not any(dominated(p, q) for q in points)]


def frontier_at(points, target):
    """The points with recall ≥ target, and among them the 2-D (bytes, QPS) frontier: each point
    faster than every point of fewer or equal bytes."""
    eligible = sorted(
        (p for p in points if p["recall"] >= target), key=lambda p: (p["bytes_per_vector"], -p["qps"])
    )
    frontier, top = [], -1.0
    for p in eligible:
        if p["qps"] > top:
            frontier.append(p)
            top = p["qps"]
    return eligible, frontier


def measure(args, metric, base, queries, truth, elem, label, build_args, n, dim):
    """All sweep points of one index kind."""
    stem = os.path.join(args.out, "pareto-" + "".join(c if c.isalnum() else "-" for c in label))
    build(args.geodex, base, stem + ".gdx", metric, *build_args)
    ram = json.loads(run([args.geodex, "info", "--index", stem + ".gdx", "--json"]))["ram_bytes"]
    points = []
    for rerank in RERANKS if build_args else (0,):
        rows = sweep(
            args.geodex, stem + ".gdx", queries, truth, EFS, "--rerank", str(rerank), "--runs", str(args.runs)
        )
        for r in rows:
            points.append(
                {
                    "kind": label,
                    "ef": r["ef"],
                    "rerank": rerank,
                    "recall": r["recall"],
                    "qps": r["qps"],
                    "distances": r["mean_distances"],
                    "bytes_per_vector": ram / n + (dim * elem if rerank else 0),
                }
            )
    os.remove(stem + ".gdx")
    print(
        f"  {label}: {ram / n:.1f} resident B/vector, best recall {max(p['recall'] for p in points):.4f}",
        file=sys.stderr,
        flush=True,
    )
    return points


def plot(name, points, frontier, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (len(TARGETS) + 3) // 3
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.5 * rows))
    axes = axes.ravel()
    kinds = list(dict.fromkeys(p["kind"] for p in points))
    colours = {k: plt.cm.tab10(i % 10) for i, k in enumerate(kinds)}
    ax = axes[0]
    for k in kinds:
        mine = [p for p in points if p["kind"] == k]
        ax.scatter([p["recall"] for p in mine], [p["qps"] for p in mine], s=10, color=colours[k], label=k)
    ax.scatter(
        [p["recall"] for p in frontier],
        [p["qps"] for p in frontier],
        s=40,
        facecolors="none",
        edgecolors="black",
        label="3-D Pareto set",
    )
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (1 thread)")
    ax.set_title(f"{name}: every point", fontsize=9)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    for ax, target in zip(axes[1:], TARGETS):
        eligible, front = frontier_at(points, target)
        for k in kinds:
            mine = [p for p in eligible if p["kind"] == k]
            ax.scatter(
                [p["bytes_per_vector"] for p in mine], [p["qps"] for p in mine], s=10, color=colours[k]
            )
        ax.step(
            [p["bytes_per_vector"] for p in front], [p["qps"] for p in front], where="post", color="black"
        )
        for p in front:
            ax.annotate(
                f"{p['kind']}, ef {p['ef']}, rr {p['rerank']}", (p["bytes_per_vector"], p["qps"]), fontsize=5
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("resident bytes per vector")
        ax.set_ylabel("queries per second")
        ax.set_title(f"recall ≥ {target}: points and their bytes–QPS frontier", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=sorted(SETS), default="sift-debian")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--only", help="comma-separated kind labels' prefixes to run (default: all)")
    p.add_argument(
        "--replot", action="store_true", help="redo the frontier and plot from OUT/pareto-DATA.json"
    )
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    metric, base_file, query_file, elem, kinds = SETS[args.data]
    folder = os.path.join(SHARED, args.data)
    base, queries = os.path.join(folder, base_file), os.path.join(folder, query_file)
    truth = os.path.join(folder, "groundtruth.ivecs")
    with open(base, "rb") as f:
        dim = int.from_bytes(f.read(4), "little")
    n = os.path.getsize(base) // (4 + dim * elem)
    wanted = args.only.split(",") if args.only else None
    stem = os.path.join(args.out, f"pareto-{args.data}")
    points = []
    if args.replot:
        with open(stem + ".json") as f:
            points = json.load(f)["points"]
    for label, build_args in [] if args.replot else kinds:
        if wanted is None or any(label.startswith(w) for w in wanted):
            points += measure(args, metric, base, queries, truth, elem, label, build_args, n, dim)
    frontier = pareto(points)
    for q in points:
        q["pareto"] = q in frontier
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(points[0]))
        w.writeheader()
        w.writerows(points)
    summary = {
        t: [
            {k: q[k] for k in ("kind", "ef", "rerank", "recall", "qps", "bytes_per_vector")}
            for q in frontier_at(points, t)[1]
        ]
        for t in TARGETS
    }
    with open(stem + ".json", "w") as f:
        json.dump(
            {"data": args.data, "n": n, "dim": dim, "points": points, "frontier_at_recall": summary},
            f,
            indent=2,
        )
    plot(args.data, points, frontier, stem + ".png")
    print(f"{args.data}: {len(points)} points, {len(frontier)} on the 3-D Pareto set")
    for t in TARGETS:
        print(f"recall ≥ {t}: bytes/vector → best QPS along the frontier")
        for q in summary[t]:
            print(
                f"  {q['bytes_per_vector']:>8.1f} B  {q['qps']:>9.0f} QPS  recall {q['recall']:.4f}  "
                f"{q['kind']}, ef {q['ef']}, rerank {q['rerank']}"
            )
    print(f"wrote {stem}.csv, .json, .png", file=sys.stderr)


if __name__ == "__main__":
    main()
