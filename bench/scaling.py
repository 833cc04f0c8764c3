#!/usr/bin/env python3
"""How search cost grows with N (THEORY.md §1.2): distance evaluations and hops per query at a
fixed recall, for prefixes of one data set, with two fitted laws and their residuals.

For each N: `geodex build --limit N`, `geodex groundtruth --limit N` (exact, so recall is
against the prefix's own neighbours), then an ef sweep. The cost at the target recall is read
off the sweep by linear interpolation in recall between the two measured ef values that bracket
it (the sweep is fine enough that both are within a few percent of the target).

Fits, both with two parameters, by least squares:
  log law    y = a + b·ln N          (linear in ln N)
  power law  y = a·N^c               (linear in ln y against ln N)
Each is judged by its relative residuals (y − ŷ)/y at the measured N; the one with the smaller
root-mean-square relative residual is the one the data support (with four points, a weak
verdict: say so). Writes a CSV, a JSON summary and a PNG.

    python3 bench/scaling.py                      # sift-debian, N = 10k, 20k, 50k, 100k
"""

import argparse
import csv
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
EFS = "10,12,14,16,18,20,24,28,32,40,48,56,64,80,96,112,128,160,192,256"


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def at_recall(rows, target, key):
    """`key` interpolated linearly in recall at `target`, from the sweep rows."""
    rows = sorted(rows, key=lambda r: r["ef"])
    for lo, hi in zip(rows, rows[1:]):
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


def fits(ns, ys):
    """Both laws fitted to (ns, ys), with predictions and relative residuals."""
    ln = [math.log(n) for n in ns]
    a, b = fit_line(ln, ys)
    log_pred = [a + b * x for x in ln]
    la, c = fit_line(ln, [math.log(y) for y in ys])
    pow_pred = [math.exp(la) * n**c for n in ns]

    def summary(pred, params):
        rel = [(y - p) / y for y, p in zip(ys, pred)]
        rms = math.sqrt(sum(r * r for r in rel) / len(rel))
        return {**params, "predicted": pred, "relative_residuals": rel, "rms_relative_residual": rms}

    out = {
        "log": summary(log_pred, {"a": a, "b": b, "law": "a + b ln N"}),
        "power": summary(pow_pred, {"a": math.exp(la), "c": c, "law": "a N^c"}),
    }
    out["supported"] = min(("log", "power"), key=lambda k: out[k]["rms_relative_residual"])
    return out


def plot(ns, series, path, target, name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    grid = [ns[0] * (ns[-1] / ns[0]) ** (i / 100) for i in range(101)]
    for ax, (key, ys, f) in zip(axes, series):
        ax.plot(ns, ys, "o", color="black", label="measured")
        lf, pf = f["log"], f["power"]
        ax.plot(grid, [lf["a"] + lf["b"] * math.log(n) for n in grid], "-",
                label=f"{lf['a']:.0f} + {lf['b']:.1f}·ln N (rms res {lf['rms_relative_residual']:.1%})")
        ax.plot(grid, [pf["a"] * n ** pf["c"] for n in grid], "--",
                label=f"{pf['a']:.1f}·N^{pf['c']:.3f} (rms res {pf['rms_relative_residual']:.1%})")
        ax.set_xscale("log")
        ax.set_xlabel("N (log scale)")
        ax.set_ylabel(f"{key} per query")
        ax.set_title(f"{name}: {key} at recall@10 = {target}")
        ax.legend(fontsize=8)
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
    p.add_argument("--target", type=float, default=0.95)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--efc", type=int, default=200)
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ns = [int(s) for s in args.sizes.split(",")]
    rows = []
    for n in ns:
        stem = os.path.join(args.out, f"scaling-{args.name}-{n}")
        print(f"N = {n}: build, ground truth, sweep", file=sys.stderr)
        run([args.geodex, "build", "--data", args.base, "--out", stem + ".gdx", "--metric", args.metric,
             "--m", str(args.m), "--ef-construction", str(args.efc), "--limit", str(n), "--quiet"])
        run([args.geodex, "groundtruth", "--data", args.base, "--queries", args.queries, "--k", "10",
             "--metric", args.metric, "--limit", str(n), "--out", stem + ".gt.ivecs", "--quiet"])
        sweep = json.loads(run([args.geodex, "bench", "--index", stem + ".gdx", "--queries", args.queries,
                                "--groundtruth", stem + ".gt.ivecs", "--k", "10", "--ef", EFS,
                                "--runs", "1", "--json", "--quiet"]))["rows"]
        rows.append({
            "n": n,
            "ef": at_recall(sweep, args.target, "ef"),
            "distances": at_recall(sweep, args.target, "mean_distances"),
            "hops": at_recall(sweep, args.target, "mean_hops"),
        })
        print(f"  {rows[-1]}", file=sys.stderr)
    result = {"data": args.name, "target_recall": args.target, "m": args.m, "ef_construction": args.efc,
              "points": rows}
    for key in ("distances", "hops"):
        result[key] = fits(ns, [r[key] for r in rows])
    stem = os.path.join(args.out, f"scaling-{args.name}")
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["n", "ef", "distances", "hops"])
        w.writeheader()
        w.writerows(rows)
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    plot(ns, [(k, [r[k] for r in rows], result[k]) for k in ("distances", "hops")], stem + ".png",
         args.target, args.name)
    print(f"{'N':>8} {'ef':>7} {'distances':>10} {'hops':>7}")
    for r in rows:
        print(f"{r['n']:>8} {r['ef']:>7.1f} {r['distances']:>10.1f} {r['hops']:>7.1f}")
    for key in ("distances", "hops"):
        f = result[key]
        for law in ("log", "power"):
            res = ", ".join(f"{x:+.1%}" for x in f[law]["relative_residuals"])
            params = f"a={f[law]['a']:.3g}, " + (f"b={f[law]['b']:.3g}" if law == "log" else f"c={f[law]['c']:.3f}")
            print(f"{key:>9} {f[law]['law']:<10} {params:<24} residuals [{res}] rms {f[law]['rms_relative_residual']:.1%}")
        print(f"{key:>9} supported: {f['supported']}")
    print(f"wrote {stem}.csv, .json, .png", file=sys.stderr)


if __name__ == "__main__":
    main()
