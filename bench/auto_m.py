#!/usr/bin/env python3
"""`--m auto` measured (HYPERBOLIC.md, "Choosing M"): per data set, what the recall probe chose,
what it cost against a fixed M = 16 (builds interleaved: fixed, auto, fixed, auto, …), and the
recall at the chosen M on queries the probe never saw — 2,000 sampled nodes of a hierarchy
(`geodex embed-eval`) or a vector set's own test queries (`geodex bench`).

    python3 bench/auto_m.py --geodex target/release/geodex --out bench/results/DATE-auto-m \\
        --work /tmp/auto-m \\
        --hierarchy mammals-poincare:mammal_closure.tsv:mam-p10.fvecs:mam.names:poincare \\
        --vectors sift:base.bvecs:query.bvecs:groundtruth.ivecs:l2 \\
        --points ball:ball-10.fvecs:poincare --ef 10,16,32 --repeat 2

A hierarchy is `NAME:CLOSURE.tsv:EMBEDDING.fvecs:NAMES:MODEL` (model poincare / lorentz /
euclidean, as `geodex embed` wrote it); vectors `NAME:BASE:QUERIES:GROUNDTRUTH:METRIC`; points
(no queries of their own: the probe only) `NAME:DATA:METRIC`.
"""

import argparse
import json
import os
import statistics

from geodex_cli import build, run, sweep


def interleaved_builds(geodex, data, metric, out, repeat):
    """Builds at M 16 and auto, alternated `repeat` times; the summaries of each, and the last
    index file of each kept as OUT-16.gdx / OUT-auto.gdx."""
    summaries = {"16": [], "auto": []}
    for _ in range(repeat):
        for m in ("16", "auto"):
            summaries[m].append(json.loads(build(geodex, data, f"{out}-{m}.gdx", metric, "--json", m=m)))
    return summaries


def embed_eval(geodex, closure, embedding, names, model, m, efs):
    """Recall of the HNSW over an embedding from 2,000 of its nodes (the MAP parts kept small)."""
    cmd = [geodex, "embed-eval", "--edges", closure, "--embedding", embedding, "--names", names]
    cmd += ["--model", model, "--m", str(m), "--ef", efs, "--queries", "2000"]
    cmd += ["--sample", "50", "--sources", "2", "--json", "--quiet"]
    return {r["ef"]: r["recall"] for r in json.loads(run(cmd))["search"]["by_ef"]}


def row(name, metric, builds, recall16, recall_auto):
    """One table row: the probe's trials, the chosen M, build seconds (median) and recalls."""
    auto = builds["auto"][-1]["auto_m"]
    trials = ", ".join(f"{t['m']}: {t['recall']:.3f}" for t in auto["trials"])
    fixed_s = statistics.median(b["build_seconds"] for b in builds["16"])
    auto_s = statistics.median(b["build_seconds"] for b in builds["auto"])

    def cells(recall):
        return " / ".join(f"{recall[ef]:.3f}" for ef in sorted(recall)) if recall else "—"

    return (
        f"| {name} | {metric} | {trials} | **{auto['chosen_m']}** | {fixed_s:.1f} | {auto_s:.1f} "
        f"({auto_s / fixed_s:.2f}×) | {cells(recall16)} | {cells(recall_auto)} |"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--geodex", default="target/release/geodex")
    ap.add_argument("--out", required=True, help="directory for the JSON and the table")
    ap.add_argument("--work", default="/tmp/geodex-auto-m", help="directory for the index files")
    ap.add_argument("--hierarchy", action="append", default=[])
    ap.add_argument("--vectors", action="append", default=[])
    ap.add_argument("--points", action="append", default=[])
    ap.add_argument("--ef", default="10,16,32")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.work, exist_ok=True)
    rows, raw = [], {}
    for spec in a.hierarchy:
        name, closure, embedding, names, model = spec.split(":")
        metric = "l2" if model == "euclidean" else "poincare"
        builds = interleaved_builds(a.geodex, embedding, metric, f"{a.work}/{name}", a.repeat)
        chosen = builds["auto"][-1]["m"]
        r16 = embed_eval(a.geodex, closure, embedding, names, model, 16, a.ef)
        r_auto = embed_eval(a.geodex, closure, embedding, names, model, chosen, a.ef)
        raw[name] = {"builds": builds, "recall_m16": r16, "recall_auto": r_auto}
        rows.append(row(name, metric, builds, r16, r_auto))
    for spec in a.vectors:
        name, base, queries, truth, metric = spec.split(":")
        out = f"{a.work}/{name}"
        builds = interleaved_builds(a.geodex, base, metric, out, a.repeat)
        r16 = {r["ef"]: r["recall"] for r in sweep(a.geodex, f"{out}-16.gdx", queries, truth, a.ef)}
        r_auto = {r["ef"]: r["recall"] for r in sweep(a.geodex, f"{out}-auto.gdx", queries, truth, a.ef)}
        raw[name] = {"builds": builds, "recall_m16": r16, "recall_auto": r_auto}
        rows.append(row(name, metric, builds, r16, r_auto))
    for spec in a.points:
        name, data, metric = spec.split(":")
        builds = interleaved_builds(a.geodex, data, metric, f"{a.work}/{name}", a.repeat)
        raw[name] = {"builds": builds}
        rows.append(row(name, metric, builds, {}, {}))
    header = [
        (
            f"| set | metric | probe recall@10 at ef 32, by M | chosen M | build s, M 16 | build s, auto "
            f"| recall@10 M 16 (ef {a.ef.replace(',', ' / ')}) | recall@10 chosen M |"
        ),
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    table = "\n".join(header + rows)
    with open(f"{a.out}/auto_m.json", "w") as f:
        json.dump(raw, f, indent=1)
    with open(f"{a.out}/auto_m.md", "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
