#!/usr/bin/env python3
"""Memory, recall and QPS per quantiser (issue 6), end to end with the `geodex` binary.

For each data set it builds a flat index and one index per quantiser (`geodex build --quant`),
reads `info --json` (ram_bytes, file_bytes, code bytes), and runs `geodex bench` over an ef
sweep at each re-ranking depth (`--rerank 0` = the codes' estimates alone). Search is
single-threaded, queries one at a time; each point is the best of `--runs` passes. The table
reports RAM against two baselines: the flat index *as geodex stores it* (u8 for SIFT) and a flat
*f32* index (graph + n·d·4 bytes, what the issue's "≤ 0.3×" target is measured against), and
the cheapest ef reaching recall@10 ≥ 0.95 with its QPS next to the flat index's.

    python3 bench/quantized.py                       # sift-debian and minilm-words-20k
    python3 bench/quantized.py --sets sift --geodex /tmp/geodex-bench
    python3 bench/quantized.py --sets sift-proj,minilm-proj   # random projections

Writes OUT/<set>.json (every build and bench output) and OUT/<set>+<set>….md (tables).
"""

import argparse
import json
import os
import subprocess
import sys

from geodex_cli import bench

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(REPO, "..", "shared", "data")

SETS = {
    "sift": {
        "dir": "sift-debian",
        "files": ("base.bvecs", "query.bvecs", "groundtruth.ivecs"),
        "metric": "l2",
        "quants": [("sq8", None), ("pq8", 32), ("pq8", 64), ("pq4", 64), ("pq4", 128)],
    },
    "minilm": {
        "dir": "minilm-words-20k",
        "files": ("base.fvecs", "query.fvecs", "groundtruth.ivecs"),
        "metric": "cosine",
        "quants": [("sq8", None), ("pq8", 96), ("pq8", 192), ("pq4", 192), ("pq4", 384)],
    },
}
# Random projections (THEORY.md §11.2) through the index: the walk on projected vectors, then
# exact re-ranking. Same data, separate tables.
SETS["sift-proj"] = dict(SETS["sift"], quants=[("proj", 16), ("proj", 32), ("proj-sparse", 32), ("proj", 64)])
SETS["minilm-proj"] = dict(
    SETS["minilm"], quants=[("proj", 48), ("proj", 96), ("proj-sparse", 96), ("proj", 192)]
)


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def label(quant, m):
    if m is None:
        return quant
    return f"{quant} k={m}" if quant.startswith("proj") else f"{quant} m={m}"


def measure(args, name, spec):
    base, queries, gt = (os.path.join(DATA, spec["dir"], f) for f in spec["files"])
    configs = [("none", None)] + spec["quants"]
    out = []
    for quant, m in configs:
        index = os.path.join(args.work, f"{name}-{quant}-{m or 0}.gdx")
        cmd = [
            args.geodex,
            "build",
            "--data",
            base,
            "--out",
            index,
            "--metric",
            spec["metric"],
            "--quant",
            quant,
            "--threads",
            str(args.threads),
            "--json",
            "--quiet",
        ]
        if m is not None:
            cmd += ["--proj-k" if quant.startswith("proj") else "--pq-m", str(m)]
        built = json.loads(run(cmd))
        info = json.loads(run([args.geodex, "info", "--index", index, "--json"]))
        reranks = [0] if quant == "none" else args.rerank
        benches = {}
        for r in reranks:
            benches[r] = bench(
                args.geodex, index, queries, gt, args.ef, "--rerank", str(r), "--runs", str(args.runs)
            )
        out.append({"quant": quant, "m": m, "build": built, "info": info, "bench": benches})
    return out


def first_at(rows, target):
    ok = [r for r in rows if r["recall"] >= target]
    return min(ok, key=lambda r: r["ef"]) if ok else None


def table(name, results, target):
    flat = results[0]
    n, dim = flat["info"]["count"], flat["info"]["dim"]
    element = 1 if flat["info"]["element"] == "u8" else 4
    graph = flat["info"]["ram_bytes"] - n * dim * element
    flat_f32 = graph + n * dim * 4
    flat_best = first_at(flat["bench"][0]["rows"], target)
    efs = [r["ef"] for r in flat["bench"][0]["rows"]]
    lines = [
        f"### {name}: n = {n}, d = {dim}, {flat['info']['metric']}, stored as {flat['info']['element']}",
        "",
        (
            f"Flat f32 baseline in RAM: {flat_f32 / 1e6:.1f} MB (graph {graph / 1e6:.1f} MB + vectors). "
            f"Recall@10 target {target}."
        ),
        "",
        "| index | B/vector | RAM MB | ÷ flat f32 | ÷ flat stored | file MB | build s | rerank | "
        + " | ".join(f"recall ef={e}" for e in efs)
        + f" | ef for {target} | QPS there | QPS ÷ flat |",
        "|" + "---|" * (8 + len(efs) + 3),
    ]
    for res in results:
        info, build = res["info"], res["build"]
        code = info.get("code_bytes", 0) or dim * element
        for r, b in res["bench"].items():
            rows = b["rows"]
            best = first_at(rows, target)
            cells = [
                label(res["quant"], res["m"]) if res["quant"] != "none" else "flat",
                str(code),
                f"{info['ram_bytes'] / 1e6:.1f}",
                f"{info['ram_bytes'] / flat_f32:.3f}",
                f"{info['ram_bytes'] / flat['info']['ram_bytes']:.3f}",
                f"{info['file_bytes'] / 1e6:.1f}",
                f"{build['build_seconds']:.1f}",
                str(r),
            ]
            cells += [f"{x['recall']:.3f}" for x in rows]
            if best and flat_best:
                cells += [str(best["ef"]), f"{best['qps']:.0f}", f"{best['qps'] / flat_best['qps']:.2f}"]
            else:
                cells += ["–", "–", "–"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    ap.add_argument("--sets", default="sift,minilm")
    ap.add_argument("--ef", default="16,32,64,128,256")
    ap.add_argument("--rerank", default="0,20,50,100", help="re-ranking depths for quantised indexes")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="build threads")
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--work", default="/tmp/geodex-quantized")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "quantized"))
    ap.add_argument("--tables-only", action="store_true", help="redo the tables from OUT/*.json")
    args = ap.parse_args()
    args.rerank = [int(x) for x in args.rerank.split(",")]
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    md = ["# Quantised indexes: memory, recall, QPS\n"]
    for name in args.sets.split(","):
        path = os.path.join(args.out, f"{name}.json")
        if args.tables_only:
            with open(path) as f:
                results = json.load(f)
            for res in results:
                res["bench"] = {int(k): v for k, v in res["bench"].items()}
        else:
            results = measure(args, name, SETS[name])
            with open(path, "w") as f:
                json.dump(results, f, indent=1)
        md.append(table(name, results, args.target))
    with open(os.path.join(args.out, args.sets.replace(",", "+") + ".md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
