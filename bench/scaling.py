#!/usr/bin/env python3
"""How search cost grows with N (THEORY.md §1.2), over several seeds, with three fitted laws.

For each seed and each N: `geodex build --limit N --seed S --threads 1` (one thread, so a build
is a function of its seed), `geodex groundtruth --limit N` (exact, so recall is against the
prefix's own neighbours), then an ef sweep over the queries. Two readings of the sweep:

  at a fixed recall  — the ef, distance evaluations and hops recall@10 = target needs, read off
                       the sweep by linear interpolation in recall between the two bracketing ef;
  at a fixed ef      — distance evaluations, hops and recall at each ef of `--fixed-ef`: the
                       text's claim is about a fixed beam (O(log N · M · d) per query).

`--base` and `--queries` may contain `{seed}`: then every seed reads its own draw of the data
(e.g. `bench/synth_sift.py --draw S`), and the seeds vary the data as well as the build.

Three two-parameter laws, fitted to the mean over seeds by least squares:
  log      y = a + b·ln N          (linear in ln N)
  polylog  y = a·(ln N)^b          (linear in ln y against ln ln N)
  power    y = a·N^c               (linear in ln y against ln N)
Each is judged three ways: the rms relative residual; χ²/dof of the residuals in units of the
standard error of the mean over seeds (≈ 1 for a law the data cannot reject, ≫ 1 for one they
can — meaningful only with ≥ 3 seeds); and the extrapolation test, the one that separates laws
with nearly equal in-range fits: fit on N ≤ `--fit-below`, predict the largest N, and report
the error in units of its standard error. Writes a CSV of every (seed, N), a JSON summary and a
PNG with error bars.

    python3 bench/scaling.py                                   # sift-debian, N = 10k … 100k, 3 seeds
    python3 bench/synth_sift.py --n 1000000 --draw S --out bench/out/synth-sift-S   # for S = 1, 2, 3
    python3 bench/scaling.py --name synth-sift --sizes 10000,30000,100000,300000,1000000 \\
        --base 'bench/out/synth-sift-{seed}/base.bvecs' --queries 'bench/out/synth-sift-{seed}/query.bvecs'

Sizes too large to build once per seed on one thread join as measured elsewhere: `--previous CSV`
takes the (seed, N) points of an earlier run instead of measuring them again, and `--prebuilt
N:SEED:INDEX:QUERIES:GROUNDTRUTH` sweeps an index built outside the script (e.g. the 10M build of
BENCHMARKS.md, two threads, PQ codes and compressed links) with `--exact-walk`: the walk reads the
full vectors, so the point measures the graph as the flat index of the other sizes would. A size
with one seed has no standard error; its χ²/dof and error in units of se are then not reported.

    python3 bench/scaling.py --name synth-sift --sizes 10000,30000,100000,300000,1000000,10000000 \\
        --previous bench/results/2026-11-30-scaling/scaling-synth-sift.csv --fit-below 1000000 \\
        --prebuilt 10000000:42:s10m-pq32c.gdx:OUT/query.bvecs:OUT/groundtruth.ivecs
"""

import argparse
import csv
import itertools
import json
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from geodex_cli import build, groundtruth, sweep

EFS = "10,12,14,16,18,20,24,28,32,40,48,56,64,80,96,112,128,160,192,256,320,384,512"
LAWS = {
    # law: (x transform, y transform, prediction from (intercept, slope) and N)
    "log": (math.log, lambda y: y, lambda a, b, n: a + b * math.log(n)),
    "polylog": (lambda n: math.log(math.log(n)), math.log, lambda a, b, n: math.exp(a) * math.log(n) ** b),
    "power": (math.log, math.log, lambda a, b, n: math.exp(a) * n**b),
}
FORMULAS = {"log": "a + b·ln N", "polylog": "a·(ln N)^b", "power": "a·N^b"}


def at_recall(rows, target, key):
    """`key` interpolated linearly in recall at `target`, from the sweep rows."""
    rows = sorted(rows, key=lambda r: r["ef"])
    for lo, hi in itertools.pairwise(rows):
        if lo["recall"] < target <= hi["recall"]:
            t = (target - lo["recall"]) / (hi["recall"] - lo["recall"])
            return lo[key] + t * (hi[key] - lo[key])
    if rows and rows[0]["recall"] >= target:
        return rows[0][key]
    raise SystemExit(f"recall {target} not reached (best {max(r['recall'] for r in rows)})")


def fit_line(xs, ys):
    """Least-squares (intercept, slope) of ys against xs."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx
    return my - slope * mx, slope


def fit_law(law, ns, ys):
    """(a, b, predict) of one law fitted to (ns, ys); `predict(n)` is the fitted curve."""
    fx, fy, pred = LAWS[law]
    a, b = fit_line([fx(n) for n in ns], [fy(y) for y in ys])
    return a, b, lambda n: pred(a, b, n)


def judge(ns, means, errors, fit_below):
    """Every law fitted to the means: parameters, residuals, χ²/dof and the extrapolation test."""
    out = {}
    inside = [i for i, n in enumerate(ns) if n <= fit_below]
    for law in LAWS:
        a, b, predict = fit_law(law, ns, means)
        rel = [(y - predict(n)) / y for n, y in zip(ns, means)]
        chi2 = sum(((y - predict(n)) / e) ** 2 for n, y, e in zip(ns, means, errors) if e > 0)
        entry = {
            "law": FORMULAS[law],
            "a": math.exp(a) if law != "log" else a,
            "b": b,
            "relative_residuals": rel,
            "rms_relative_residual": math.sqrt(sum(r * r for r in rel) / len(rel)),
            "chi2_per_dof": chi2 / max(1, len(ns) - 2) if all(e > 0 for e in errors) else None,
        }
        if len(inside) >= 3 and len(inside) < len(ns):
            _, _, small = fit_law(law, [ns[i] for i in inside], [means[i] for i in inside])
            n, y, e = ns[-1], means[-1], errors[-1]
            entry["extrapolated_to"] = n
            entry["extrapolated"] = small(n)
            entry["extrapolation_error"] = (small(n) - y) / y
            entry["extrapolation_error_in_se"] = (small(n) - y) / e if e > 0 else None
        out[law] = entry
    return out


def sweep_prefix(args, seed, n):
    """The ef sweep of one (seed, N), building the index and its ground truth first."""
    base, queries = args.base.format(seed=seed), args.queries.format(seed=seed)
    stem = os.path.join(args.out, f"scaling-{args.name}-s{seed}-{n}")
    build(
        args.geodex,
        base,
        stem + ".gdx",
        args.metric,
        "--limit",
        str(n),
        "--threads",
        "1",
        m=args.m,
        efc=args.efc,
        seed=seed,
    )
    groundtruth(args.geodex, base, queries, stem + ".gt.ivecs", args.metric, "--limit", str(n))
    rows = sweep(args.geodex, stem + ".gdx", queries, stem + ".gt.ivecs", EFS, "--runs", "1")
    if not args.keep:
        os.remove(stem + ".gdx")
    return rows


def sweep_prebuilt(args, spec):
    """(seed, N, sweep) of one `--prebuilt N:SEED:INDEX:QUERIES:GROUNDTRUTH`, walked on the full vectors."""
    n, seed, index, queries, truth = spec.split(":", 4)
    rows = sweep(args.geodex, index, queries, truth, EFS, "--runs", "1", "--exact-walk")
    return int(seed), int(n), rows


def previous_points(path, keys):
    """The points of an earlier run's CSV, numbers parsed."""
    with open(path, newline="") as f:
        return [
            {"seed": int(r["seed"]), "n": int(r["n"]), **{k: float(r[k]) for k in keys}}
            for r in csv.DictReader(f)
        ]


def point(rows, seed, n, target, fixed_efs):
    """One CSV row: the fixed-recall reading and the fixed-ef readings of one sweep."""
    out = {
        "seed": seed,
        "n": n,
        "ef": at_recall(rows, target, "ef"),
        "distances": at_recall(rows, target, "mean_distances"),
        "hops": at_recall(rows, target, "mean_hops"),
    }
    by_ef = {r["ef"]: r for r in rows}
    for ef in fixed_efs:
        out[f"distances_ef{ef}"] = by_ef[ef]["mean_distances"]
        out[f"hops_ef{ef}"] = by_ef[ef]["mean_hops"]
        out[f"recall_ef{ef}"] = by_ef[ef]["recall"]
    return out


def mean_and_se(values):
    """Mean and standard error of the mean (0 for one value)."""
    m = statistics.fmean(values)
    return m, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0)


def plot(ns, series, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(series), figsize=(5.5 * len(series), 4.2))
    grid = [ns[0] * (ns[-1] / ns[0]) ** (i / 100) for i in range(101)]
    for ax, (label, means, errors, fits) in zip(axes, series):
        ax.errorbar(
            ns,
            means,
            yerr=[2 * e for e in errors],
            fmt="o",
            color="black",
            capsize=3,
            label="measured (mean ± 2 se)",
        )
        for law, style in zip(LAWS, ("-", ":", "--")):
            _, _, predict = fit_law(law, ns, means)
            f = fits[law]
            ax.plot(
                grid,
                [predict(n) for n in grid],
                style,
                label=f"{f['law']}: a={f['a']:.3g}, b={f['b']:.3g} (rms {f['rms_relative_residual']:.1%})",
            )
        ax.set_xscale("log")
        ax.set_xlabel("N (log scale)")
        ax.set_ylabel(label)
        ax.set_title(f"{title}: {label}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.path.join(REPO, "..", "shared", "data", "sift-debian")
    p.add_argument("--base", default=os.path.join(data, "base.bvecs"))
    p.add_argument("--queries", default=os.path.join(data, "query.bvecs"))
    p.add_argument("--metric", default="l2")
    p.add_argument("--name", default="sift-debian")
    p.add_argument("--sizes", default="10000,20000,50000,100000")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--target", type=float, default=0.95)
    p.add_argument("--fixed-ef", default="16,64", help="beams at which cost is read against N")
    p.add_argument("--fit-below", type=int, default=100_000, help="the extrapolation test fits N ≤ this")
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--efc", type=int, default=200)
    p.add_argument("--keep", action="store_true", help="keep the index files")
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    p.add_argument("--previous", help="CSV of an earlier run: its (seed, N) points are not measured again")
    p.add_argument(
        "--prebuilt",
        action="append",
        default=[],
        metavar="N:SEED:INDEX:QUERIES:GROUNDTRUTH",
        help="a point from an index built elsewhere, searched with --exact-walk (repeatable)",
    )
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ns = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    fixed_efs = [int(e) for e in args.fixed_ef.split(",")]
    keys = ["ef", "distances", "hops"] + [
        f"{q}_ef{ef}" for ef in fixed_efs for q in ("distances", "hops", "recall")
    ]
    points = [q for q in previous_points(args.previous, keys) if q["n"] in ns] if args.previous else []
    prebuilt = [sweep_prebuilt(args, spec) for spec in args.prebuilt]
    points += [point(rows, seed, n, args.target, fixed_efs) for seed, n, rows in prebuilt]
    for seed in seeds:
        for n in ns:
            if any(q["seed"] == seed and q["n"] == n for q in points) or any(n == b[1] for b in prebuilt):
                continue
            points.append(point(sweep_prefix(args, seed, n), seed, n, args.target, fixed_efs))
            print(f"  {points[-1]}", file=sys.stderr, flush=True)
    seeds = sorted({q["seed"] for q in points})
    summary = {}
    for key in keys:
        stats = [mean_and_se([p[key] for p in points if p["n"] == n]) for n in ns]
        means, errors = [s[0] for s in stats], [s[1] for s in stats]
        summary[key] = {"mean": means, "se": errors}
        if not key.startswith("recall"):
            summary[key]["fits"] = judge(ns, means, errors, args.fit_below)
    result = {
        "data": args.name,
        "target_recall": args.target,
        "m": args.m,
        "ef_construction": args.efc,
        "sizes": ns,
        "seeds": seeds,
        "fit_below": args.fit_below,
        "points": points,
        "summary": summary,
    }
    stem = os.path.join(args.out, f"scaling-{args.name}")
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["seed", "n"] + keys)
        w.writeheader()
        w.writerows(points)
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    series = [
        (f"distances at recall {args.target}", *[summary["distances"][k] for k in ("mean", "se", "fits")]),
        (f"hops at recall {args.target}", *[summary["hops"][k] for k in ("mean", "se", "fits")]),
    ]
    series += [
        (f"distances at ef {ef}", *[summary[f"distances_ef{ef}"][k] for k in ("mean", "se", "fits")])
        for ef in fixed_efs
    ]
    plot(ns, series, stem + ".png", f"{args.name}, M={args.m}, {len(seeds)} seeds")
    report(ns, summary, keys)
    print(f"wrote {stem}.csv, .json, .png", file=sys.stderr)


def report(ns, summary, keys):
    """The means ± se per N, then every law's fit per quantity."""
    print("quantity".ljust(16) + "".join(f"{n:>18,}" for n in ns))
    for key in keys:
        s = summary[key]
        print(key.ljust(16) + "".join(f"{m:>11.4g} ± {e:<5.2g}" for m, e in zip(s["mean"], s["se"])))
    for key in keys:
        if "fits" not in summary[key]:
            continue
        for f in summary[key]["fits"].values():
            chi = f"{f['chi2_per_dof']:.1f}" if f["chi2_per_dof"] is not None else "–"
            ext = ""
            if "extrapolated" in f:
                se = f["extrapolation_error_in_se"]
                ext = f"  extrapolated to {f['extrapolated_to']:,}: {f['extrapolation_error']:+.1%}"
                ext += f" ({se:+.1f} se)" if se is not None else ""
            print(
                f"{key:<16} {f['law']:<11} a={f['a']:<9.4g} b={f['b']:<8.4g} "
                f"rms {f['rms_relative_residual']:.1%}  χ²/dof {chi}{ext}"
            )


if __name__ == "__main__":
    main()
