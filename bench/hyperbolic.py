#!/usr/bin/env python3
"""Hierarchy embeddings and hyperbolic search (THEORY.md §3.2, §9.2), end to end with the
`geodex` binary: the tables of HYPERBOLIC.md.

For every dimension and trained model (poincare, lorentz, euclidean) it runs
`geodex embed` with the same epochs, negatives, burn-in and seed, and a learning-rate grid from
which the command keeps the best reconstruction MAP (every model is tuned the same way, so the
Euclidean baseline is not a straw man); Sarkar's construction runs in 2-d. Then
`geodex embed-eval --json --ef …` measures reconstruction (closure MAP and mean rank, as Nickel &
Kiela 2017; graph-neighbour MAP, as Sala et al. 2018), distortion, and HNSW over the
embedding: recall@k against exact search in the same geometry and the hierarchy task (share
of a node's k nearest that are its ancestors or descendants) per ef, with distance evaluations.
The hierarchy task is compared at equal dimension and equal distance evaluations by
interpolating each model's precision at the same budgets.

    python3 bench/hyperbolic.py                                   # mammals, d = 2, 5, 10, 20
    python3 bench/hyperbolic.py --edges tree.tsv --dims 10 --models poincare,euclidean \\
        --epochs 20 --lr 0.3 --tag tree100k                      # a large synthetic tree

Writes OUT/<tag>.json (every run's embed and embed-eval output) and OUT/<tag>.md (tables).
"""

import argparse
import itertools
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUDGETS = [300, 500, 800]


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def at_budget(rows, budget, key):
    """`key` interpolated linearly in mean distance evaluations at `budget`: None below the
    sweep's cheapest row; above its dearest row, that row's value marked with `*` (the sweep
    has converged there: the search already spends less than the budget)."""
    rows = sorted(rows, key=lambda r: r["mean_distances"])
    if budget > rows[-1]["mean_distances"]:
        return f"{rows[-1][key]:.3f}*"
    for lo, hi in itertools.pairwise(rows):
        if lo["mean_distances"] <= budget <= hi["mean_distances"]:
            t = (budget - lo["mean_distances"]) / max(hi["mean_distances"] - lo["mean_distances"], 1e-9)
            return lo[key] + t * (hi[key] - lo[key])
    return None


def fmt(x, digits=3):
    if isinstance(x, str):
        return x
    return "–" if x is None else f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--edges", default=os.path.join(REPO, "..", "shared", "data", "wordnet", "mammal_closure.tsv")
    )
    ap.add_argument("--dims", default="2,5,10,20")
    ap.add_argument("--models", default="poincare,lorentz,euclidean,sarkar")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--lr", default="0.03,0.1,0.3,1,3")
    ap.add_argument("--ef", default="10,16,24,32,48,64,96,128,192")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--eval-args", default="", help="extra embed-eval flags, e.g. '--sample 2000 --queries 2000'"
    )
    ap.add_argument("--tag", default="mammal")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "2026-12-01-hyperbolic"))
    ap.add_argument(
        "--update",
        action="store_true",
        help="keep OUT/<tag>.json's other runs, replacing only the (model, d) pairs run now",
    )
    ap.add_argument("--tables-only", action="store_true", help="rewrite OUT/<tag>.md from OUT/<tag>.json")
    ap.add_argument("--work", help="where the embeddings go (default OUT/embeddings)")
    ap.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    work = a.work or os.path.join(a.out, "embeddings")
    os.makedirs(work, exist_ok=True)

    json_path = os.path.join(a.out, f"{a.tag}.json")
    runs = []
    if a.update or a.tables_only:
        with open(json_path) as f:
            runs = json.load(f)
    for model in [] if a.tables_only else a.models.split(","):
        dims = [2] if model == "sarkar" else [int(d) for d in a.dims.split(",")]
        for dim in dims:
            stem = os.path.join(work, f"{a.tag}-{model}-d{dim}")
            embed = [
                a.geodex,
                "embed",
                "--edges",
                a.edges,
                "--model",
                model,
                "--dim",
                str(dim),
                "--out",
                stem + ".fvecs",
                "--names",
                stem + ".txt",
                "--json",
                "--quiet",
            ]
            if model != "sarkar":
                embed += [
                    "--epochs",
                    str(a.epochs),
                    "--lr",
                    a.lr,
                    "--threads",
                    str(a.threads),
                    "--seed",
                    str(a.seed),
                ]
            made = json.loads(run(embed))
            evaluated = json.loads(
                run(
                    [
                        a.geodex,
                        "embed-eval",
                        "--edges",
                        a.edges,
                        "--embedding",
                        stem + ".fvecs",
                        "--names",
                        stem + ".txt",
                        "--model",
                        model,
                        "--json",
                        "--ef",
                        a.ef,
                        "--k",
                        str(a.k),
                        "--threads",
                        str(a.threads),
                    ]
                    + a.eval_args.split()
                )
            )
            runs = [r for r in runs if (r["model"], r["dim"]) != (model, dim)]
            runs.append(
                {
                    "model": model,
                    "dim": dim,
                    "args": {"epochs": a.epochs, "lr": a.lr, "seed": a.seed},
                    "embed": made,
                    "eval": evaluated,
                }
            )
            runs.sort(
                key=lambda r: (["poincare", "lorentz", "euclidean", "sarkar"].index(r["model"]), r["dim"])
            )
            with open(json_path, "w") as f:
                json.dump(runs, f, indent=1)

    lines = [
        (
            f"Closure: `{os.path.relpath(a.edges, REPO)}`, {a.threads} threads, k {a.k}; "
            "epochs and the lr grid per row."
        ),
        "",
        "| model | d | epochs | lr grid → chosen | s/epoch | MAP | mean rank | graph MAP | distortion avg | worst |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        e, d = r["eval"], r["embed"]["details"]
        grid = r.get("args", {"epochs": a.epochs, "lr": a.lr})
        chosen = f"{grid['lr']} → {d['lr']}" if "lr" in d else f"τ = {d.get('tau', 0):.3f}"
        epochs = grid["epochs"] if "lr" in d else "–"
        lines.append(
            f"| {r['model']} | {r['dim']} | {epochs} | {chosen} | "
            f"{fmt(d.get('seconds_per_epoch'))} | {e['map']:.3f} | {e['mean_rank']:.2f} | "
            f"{e['map_graph']:.3f} | {e['distortion_avg']:.3f} | {e['distortion_worst']:.1f} |"
        )
    lines += [
        "",
        (
            "Search over the embedding (HNSW M 16, efc 200): recall@k against exact search in the same "
            "geometry, and the hierarchy task (share of the k nearest that are ancestors or descendants), "
            "interpolated at equal distance evaluations per query (`*`: the model's largest ef already "
            "costs less; its value there)."
        ),
        "",
        "| model | d | exact hier. prec. | min recall | max recall | "
        + " | ".join(f"prec. @ {b} dist." for b in BUDGETS)
        + " | "
        + " | ".join(f"recall @ {b} dist." for b in BUDGETS)
        + " |",
        "|---|---|---|---|---|" + "---|" * (2 * len(BUDGETS)),
    ]
    for r in runs:
        s = r["eval"]["search"]
        rows = s["by_ef"]
        lines.append(
            f"| {r['model']} | {r['dim']} | {s['exact_hierarchy_precision']:.3f} | "
            f"{min(x['recall'] for x in rows):.3f} (ef {rows[0]['ef']}) | {max(x['recall'] for x in rows):.3f} | "
            + " | ".join(fmt(at_budget(rows, b, "hierarchy_precision")) for b in BUDGETS)
            + " | "
            + " | ".join(fmt(at_budget(rows, b, "recall")) for b in BUDGETS)
            + " |"
        )
    with open(os.path.join(a.out, f"{a.tag}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
