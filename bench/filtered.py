#!/usr/bin/env python3
"""Filtered search (issue 8, item 3): recall@10 and QPS per selectivity, on each path.

For each data set it builds one index, then for each share of allowed keys (drawn with a fixed
seed) computes the filtered ground truth (`geodex groundtruth --filter-keys`) and runs
`geodex bench --filter-keys` three ways: the default switch (exact scan below the cost
crossover √(16·ef/n)), the graph walk alone (`--exact-below 0`), and the exact scan alone
(`--exact-below 1`). Single-threaded queries, best of `--runs`.

    python3 bench/filtered.py                         # sift-debian and minilm-words-20k
    python3 bench/filtered.py --sets sift --geodex /tmp/geodex-bench

Writes OUT/filtered.json and OUT/filtered.md.
"""

import argparse
import json
import os
import random
import subprocess
import sys

from geodex_cli import bench, groundtruth

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(REPO, "..", "shared", "data")
SETS = {
    "sift": ("sift-debian", "base.bvecs", "query.bvecs", "l2", 100_000),
    "minilm": ("minilm-words-20k", "base.fvecs", "query.fvecs", "cosine", 20_000),
}
PATHS = [("switch", []), ("walk", ["--exact-below", "0"]), ("exact", ["--exact-below", "1"])]


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    ap.add_argument("--sets", default="sift,minilm")
    ap.add_argument("--shares", default="0.5,0.1,0.01")
    ap.add_argument("--ef", default="16,32,64,128,256")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/geodex-filtered")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "filtered"))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    results = {}
    md = ["# Filtered search: recall@10 and QPS per selectivity\n"]
    for name in args.sets.split(","):
        d, base, queries, metric, n = SETS[name]
        base, queries = (os.path.join(DATA, d, f) for f in (base, queries))
        index = os.path.join(args.work, f"{name}.gdx")
        run([args.geodex, "build", "--data", base, "--out", index, "--metric", metric, "--quiet"])
        md += [
            f"### {name} (n = {n}, {metric}, M = 16, ef_construction = 200)",
            "",
            "| allowed | path | " + " | ".join(f"ef={e} recall / QPS" for e in args.ef.split(",")) + " |",
            "|" + "---|" * (2 + len(args.ef.split(","))),
        ]
        for share in (float(s) for s in args.shares.split(",")):
            rng = random.Random(int(share * 1000))
            keys = [k for k in range(n) if rng.random() < share]
            kf = os.path.join(args.work, f"{name}-{share}.txt")
            with open(kf, "w") as f:
                f.write("\n".join(map(str, keys)))
            gt = os.path.join(args.work, f"{name}-{share}.ivecs")
            groundtruth(args.geodex, base, queries, gt, metric, "--filter-keys", kf)
            for path, extra in PATHS:
                out = bench(
                    args.geodex,
                    index,
                    queries,
                    gt,
                    args.ef,
                    "--filter-keys",
                    kf,
                    "--runs",
                    str(args.runs),
                    *extra,
                )
                results[f"{name}/{share}/{path}"] = out
                label = path if path != "switch" else "switch (ˣ = scanned)"
                scanned = path == "switch"
                cells = [
                    f"{r['recall']:.3f} / {r['qps']:.0f}{'ˣ' if scanned and r['exact_share'] == 1.0 else ''}"
                    for r in out["rows"]
                ]
                md.append(f"| {100 * share:g} % ({len(keys)}) | {label} | " + " | ".join(cells) + " |")
        md.append("")
    with open(os.path.join(args.out, "filtered.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, "filtered.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
