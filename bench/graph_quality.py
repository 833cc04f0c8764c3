#!/usr/bin/env python3
"""Does graph quality predict recall? (THEORY.md §3.3: "good graph = high λ₂, small diameter,
balanced degree".)

Builds one data set with M ∈ {4, 8, 12, 16, 24, 32} and two ef_construction values, measures
each graph with `geodex analyze --only graph,spectral` (λ₂ of both Laplacians, sweep-cut
conductance, hop diameter estimate, mean hop distance, unreachable nodes, in-degree spread) and
its recall@10 and distance evaluations at a fixed ef with `geodex bench`, then reports
Spearman rank correlations of each graph measure with recall — over all builds, and within
each ef_construction (where only M varies).

    python3 bench/graph_quality.py                        # minilm-words-20k, ef 32
    python3 bench/graph_quality.py --data sift-debian     # 100k: about 5 minutes
"""

import argparse
import csv
import json
import os
import sys

from geodex_cli import build, run, sweep

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SETS = {
    "minilm-words-20k": ("base.fvecs", "query.fvecs", "cosine"),
    "sift-debian": ("base.bvecs", "query.bvecs", "l2"),
}
# Each measure with the direction "better graph" means in the text: high λ₂ and conductance,
# small diameter and hop distance, no unreachable nodes, balanced degrees (a small maximum
# in-degree), and more links.
MEASURES = {
    "lambda2": +1,
    "lambda2_normalized": +1,
    "conductance": +1,
    "diameter_lower_bound": -1,
    "mean_hop_distance": -1,
    "unreachable": -1,
    "in_degree_max": -1,
    "mean_degree": +1,
}


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for o in order[i : j + 1]:
            r[o] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    saa = sum((x - ma) ** 2 for x in ra)
    sbb = sum((y - mb) ** 2 for y in rb)
    return sab / (saa * sbb) ** 0.5 if saa > 0 and sbb > 0 else float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="minilm-words-20k", choices=sorted(SETS))
    p.add_argument("--data-dir", default=os.path.join(REPO, "..", "shared", "data"))
    p.add_argument("--ms", default="4,8,12,16,24,32")
    p.add_argument("--efcs", default="40,200")
    p.add_argument("--ef", type=int, default=32)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="build threads (1: same seed, same graph, so the run is reproducible)",
    )
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    p.add_argument("--from-csv", help="recompute the statistics from an earlier run's CSV, building nothing")
    args = p.parse_args()
    if args.from_csv:
        with open(args.from_csv) as f:
            rows = [
                {k: (v == "True" if v in ("True", "False") else float(v)) for k, v in r.items()}
                for r in csv.DictReader(f)
            ]
        report(args, rows, os.path.splitext(args.from_csv)[0])
        return
    base, queries, metric = SETS[args.data]
    d = os.path.join(args.data_dir, args.data)
    base, queries, truth = (
        os.path.join(d, base),
        os.path.join(d, queries),
        os.path.join(d, "groundtruth.ivecs"),
    )
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for efc in [int(x) for x in args.efcs.split(",")]:
        for m in [int(x) for x in args.ms.split(",")]:
            index = os.path.join(args.out, f"quality-{args.data}-m{m}-efc{efc}.gdx")
            print(f"M = {m}, ef_construction = {efc}", file=sys.stderr)
            build(args.geodex, base, index, metric, "--threads", str(args.threads), m=m, efc=efc)
            a = json.loads(
                run([args.geodex, "analyze", "--index", index, "--only", "graph,spectral", "--json"])
            )
            b = sweep(args.geodex, index, queries, truth, str(args.ef), "--runs", "1")[0]
            g, s = a["graph"], a["spectral"]
            level0 = g["levels"][0]
            rows.append(
                {
                    "m": m,
                    "ef_construction": efc,
                    "lambda2": s["lambda2"],
                    "lambda2_normalized": s["lambda2_normalized"],
                    "conductance": s["conductance"],
                    "diameter_lower_bound": g["level0_hops"]["diameter_lower_bound"],
                    "mean_hop_distance": g["level0_hops"]["mean_distance"],
                    "unreachable": g["unreachable"],
                    "in_degree_max": level0["in_degree"]["max"],
                    "mean_degree": 2 * s["edges"] / s["nodes"],
                    "spectral_converged": s["converged"],
                    "recall": b["recall"],
                    "mean_distances": b["mean_distances"],
                    "mean_hops": b["mean_hops"],
                }
            )
            print(f"  {rows[-1]}", file=sys.stderr)
    stem = os.path.join(args.out, f"graph-quality-{args.data}")
    with open(stem + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    report(args, rows, stem)


def report(args, rows, stem):
    """Spearman correlations and same-M pair agreement; prints them and writes STEM.json."""
    groups = {"all builds": rows}
    for efc in sorted({r["ef_construction"] for r in rows}):
        groups[f"ef_construction {efc}"] = [r for r in rows if r["ef_construction"] == efc]
    result = {"data": args.data, "ef": args.ef, "rows": rows, "spearman_with_recall": {}}
    print(f"Spearman ρ(measure, recall@10 at ef {args.ef}) on {args.data}")
    print(f"{'measure':<22}" + "".join(f"{g:>22}" for g in groups))
    for key in MEASURES:
        rhos = {g: spearman([r[key] for r in rs], [r["recall"] for r in rs]) for g, rs in groups.items()}
        result["spearman_with_recall"][key] = rhos
        print(f"{key:<22}" + "".join(f"{rho:>22.3f}" for rho in rhos.values()))
    # Same M, different ef_construction: does the measure order the two builds as recall does?
    # (Within one ef_construction every measure moves with M, as recall does; these pairs are
    # where a measure has to say something M alone does not.)
    efcs = sorted({r["ef_construction"] for r in rows})
    pairs = [
        (a, b)
        for a in rows
        for b in rows
        if a["m"] == b["m"] and a["ef_construction"] == efcs[0] and b["ef_construction"] == efcs[-1]
    ]
    result["same_m_pairs_ordered_like_recall"] = {}
    print(
        f"same-M pairs (ef_construction {efcs[0]} vs {efcs[-1]}), measure's 'better' direction vs recall, of {len(pairs)}:"
    )
    for key, direction in MEASURES.items():
        signs = [direction * (b[key] - a[key]) * (b["recall"] - a["recall"]) for a, b in pairs]
        counts = {
            "agree": sum(x > 0 for x in signs),
            "tie": sum(x == 0 for x in signs),
            "disagree": sum(x < 0 for x in signs),
        }
        result["same_m_pairs_ordered_like_recall"][key] = counts
        print(f"  {key:<22}{counts['agree']} agree, {counts['tie']} tie, {counts['disagree']} disagree")
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {stem}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
