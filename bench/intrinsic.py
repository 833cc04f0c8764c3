#!/usr/bin/env python3
"""Does the intrinsic dimension d, not the ambient D, drive search cost? (THEORY §3.1)

Both shared sets have d ≈ 15, so they cannot tell. This script makes two families in which one
of the two moves while the other stays put, and measures the cost of recall@10 = 0.95:

  d moves, D fixed  — `bench/synth_sift.py`'s mixture fitted to sift-debian (D = 128, the same
                      256 cells and means) with r ∈ `--ranks` principal directions kept per cell
                      and no noise off them (noise 0; rounding to bytes adds variance 1/12 per
                      component, ~1 % of a nearest-neighbour distance): each cell is an r-flat,
                      so the local dimension follows r (with PPCA's noise the discarded
                      directions come back at small scale: r = 4 with noise 0.1 measured
                      MLE 11.5, TwoNN 21.9);
  D moves, d fixed  — minilm-words-20k (cosine; unit vectors, so L2 gives the same order)
                      projected onto its top p principal components, p ∈ `--pca`: the ambient
                      dimension falls from 384 while the local structure (d ≈ 8–15) stays.

For each set: `geodex build` (M = 16, ef_construction = 200, seed 42, one thread), exact ground
truth of that set, an ef sweep, and `geodex analyze --only geometry` (Levina–Bickel MLE and
TwoNN). Cost at recall 0.95 and 0.99 (ef, distance evaluations, hops) is interpolated in recall
as in `bench/scaling.py`; where even ef = 10 (the smallest beam for k = 10) exceeds the target,
the ef-10 cost is reported and marked as an upper bound (`floor`). The text (§3.1) says HNSW costs O(log N · M · d) with d the intrinsic
dimension; the verdict asks whether cost follows d within the first family and stays flat
within the second.

    python3 bench/intrinsic.py                         # ~10 minutes on 2 cores

Writes OUT/intrinsic.{csv,json,png}.
"""

import argparse
import csv
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from geodex_cli import build, groundtruth, run, sweep
from peers import read_vecs, write_vecs
from scaling import EFS, at_recall
from synth_sift import fit, sample

SHARED = os.path.join(REPO, "..", "shared", "data")
TARGETS = (0.95, 0.99)


def measure(args, family, label, base, queries, metric):
    """Intrinsic dimension and the cost of recall 0.95 of one set."""
    stem = os.path.join(args.out, f"intrinsic-{family}-{label}")
    g = args.geodex
    build(g, base, stem + ".gdx", metric, "--threads", "1")
    groundtruth(g, base, queries, stem + ".gt.ivecs", metric)
    rows = sweep(g, stem + ".gdx", queries, stem + ".gt.ivecs", EFS, "--runs", "1")
    geo = json.loads(run([g, "analyze", "--index", stem + ".gdx", "--only", "geometry", "--json"]))[
        "geometry"
    ]
    for ext in (".gdx", ".gt.ivecs"):
        os.remove(stem + ext)
    point = {
        "family": family,
        "set": label,
        "ambient_dim": geo["ambient_dim"],
        "intrinsic_dim_mle": geo["intrinsic_dim_mle"],
        "intrinsic_dim_twonn": geo["intrinsic_dim_twonn"],
        "relative_contrast": geo["relative_contrast"],
    }
    floor = min(rows, key=lambda r: r["ef"])
    for target in TARGETS:
        tag = f"{target:g}"
        point[f"floor_{tag}"] = floor["recall"] >= target
        point[f"ef_{tag}"] = at_recall(rows, target, "ef")
        point[f"distances_{tag}"] = at_recall(rows, target, "mean_distances")
        point[f"hops_{tag}"] = at_recall(rows, target, "mean_hops")
    print(f"  {point}", file=sys.stderr, flush=True)
    return point


def rank_family(args):
    """The PPCA mixture at each rank: d moves, D = 128."""
    real = read_vecs(os.path.join(SHARED, "sift-debian", "base.bvecs"))
    points = []
    for rank in [int(r) for r in args.ranks.split(",")]:
        model = fit(real, 256, rank, 0.0, 42)
        folder = os.path.join(args.out, f"intrinsic-rank{rank}")
        os.makedirs(folder, exist_ok=True)
        base, queries = os.path.join(folder, "base.bvecs"), os.path.join(folder, "query.bvecs")
        write_vecs(base, sample(model, args.n, 42))
        write_vecs(queries, sample(model, 1000, 42 + 1_000_003))
        points.append(measure(args, "rank", f"r{rank}", base, queries, "l2"))
    return points


def pca_family(args):
    """minilm projected onto its top p principal components: D moves, d stays."""
    folder = os.path.join(SHARED, "minilm-words-20k")
    base = read_vecs(os.path.join(folder, "base.fvecs")).astype(np.float64)
    queries = read_vecs(os.path.join(folder, "query.fvecs")).astype(np.float64)
    mean = base.mean(axis=0)
    _, _, vt = np.linalg.svd(base - mean, full_matrices=False)
    points = []
    for p in [int(x) for x in args.pca.split(",")]:
        out = os.path.join(args.out, f"intrinsic-pca{p}")
        os.makedirs(out, exist_ok=True)
        b, q = os.path.join(out, "base.fvecs"), os.path.join(out, "query.fvecs")
        write_vecs(b, ((base - mean) @ vt[:p].T).astype(np.float32))
        write_vecs(q, ((queries - mean) @ vt[:p].T).astype(np.float32))
        points.append(measure(args, "pca", f"p{p}", b, q, "l2"))
    return points


def log_slope(xs, ys):
    """Least-squares slope of ln y against ln x: the exponent of a power law y ∝ x^s."""
    lx, ly = np.log(xs), np.log(ys)
    return float(np.polyfit(lx, ly, 1)[0])


def plot(points, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, family, x_key, title in (
        (axes[0], "rank", "intrinsic_dim_mle", "d moves (D = 128)"),
        (axes[1], "pca", "ambient_dim", "D moves (minilm, PCA)"),
    ):
        mine = [p for p in points if p["family"] == family]
        for target in TARGETS:
            key = f"distances_{target:g}"
            ax.plot(
                [p[x_key] for p in mine], [p[key] for p in mine], "o-", label=f"distances at recall {target}"
            )
        for p in mine:
            ax.annotate(
                f"d={p['intrinsic_dim_mle']:.1f}", (p[x_key], p[f"distances_{TARGETS[-1]:g}"]), fontsize=7
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(x_key.replace("_", " "))
        ax.set_ylabel("distance evaluations per query")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def slopes(points):
    """Power-law exponents of cost against d (rank family) and against D (PCA family), per target."""
    out = {}
    for target in TARGETS:
        key = f"distances_{target:g}"
        rank = [p for p in points if p["family"] == "rank"]
        pca = [p for p in points if p["family"] == "pca"]
        out[f"rank_family_{key}_vs_mle"] = log_slope(
            [p["intrinsic_dim_mle"] for p in rank], [p[key] for p in rank]
        )
        out[f"pca_family_{key}_vs_ambient"] = log_slope(
            [p["ambient_dim"] for p in pca], [p[key] for p in pca]
        )
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default="4,8,16,32,64")
    p.add_argument("--pca", default="384,192,96,48,24")
    p.add_argument("--n", type=int, default=100_000, help="base vectors of each synthetic set")
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    points = rank_family(args) + pca_family(args)
    summary = slopes(points)
    stem = os.path.join(args.out, "intrinsic")
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(points[0]))
        w.writeheader()
        w.writerows(points)
    with open(stem + ".json", "w") as f:
        json.dump(
            {"targets": TARGETS, "n_synthetic": args.n, "points": points, "summary": summary}, f, indent=2
        )
    plot(points, stem + ".png")
    print(
        f"{'family':<6} {'set':<6} {'D':>4} {'d MLE':>6} {'TwoNN':>6} {'RC':>5}"
        + "".join(f" {'ef':>6} {'dist':>6} {'hops':>5} @{t:<4}" for t in TARGETS)
    )
    for q in points:
        line = (
            f"{q['family']:<6} {q['set']:<6} {q['ambient_dim']:>4} {q['intrinsic_dim_mle']:>6.1f} "
            f"{q['intrinsic_dim_twonn']:>6.1f} {q['relative_contrast']:>5.2f}"
        )
        for t in TARGETS:
            mark = "≤" if q[f"floor_{t:g}"] else " "
            line += (
                f" {q[f'ef_{t:g}']:>6.1f} {mark}{q[f'distances_{t:g}']:>5.0f} {q[f'hops_{t:g}']:>5.1f}      "
            )
        print(line)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
