#!/usr/bin/env python3
"""Held-out leaves for the hierarchy task (HYPERBOLIC.md, "Held-out leaves"; issue 22 item 4):
queries whose nodes the embedding never saw.

A seeded 10 % of the leaves (nodes that are nobody's ancestor) are removed from the closure;
the rest is embedded (`geodex embed`) and indexed (`geodex build`, `--m auto`). Each removed
leaf is placed by its parent — the deepest of its ancestors — on the ray from the origin
through the parent, one mean parent→leaf radial step further out (the step measured on the
trained leaves: hyperbolic radius 2·artanh‖x‖ in the ball, ‖x‖ in Euclidean space) — and
searched among the embedded nodes. Reported per model: how often the parent is the nearest
node and among the 10 nearest, the share of the 10 nearest that are the leaf's ancestors
(exact search and HNSW at each ef), and HNSW recall@10 against exact search.

    python3 bench/heldout.py --closure /tmp/wn/mammal_closure.tsv --models poincare,euclidean \\
        --dim 10 --epochs 300 --lr 0.1,0.3 --work /tmp/heldout --out bench/results/DATE-heldout --tag mammals
"""

import argparse
import json
import os
import random
from collections import defaultdict

import numpy as np
from geodex_cli import run


def read_closure(path):
    """child → set of ancestors, from `child<TAB>ancestor` lines."""
    ancestors = defaultdict(set)
    with open(path) as f:
        for line in f:
            child, ancestor = line.rstrip("\n").split("\t")
            ancestors[child].add(ancestor)
    return ancestors


def split_leaves(ancestors, share, seed):
    """The held-out leaves (sorted) and the closure without them."""
    nodes = set(ancestors) | {a for s in ancestors.values() for a in s}
    inner = {a for s in ancestors.values() for a in s}
    leaves = sorted(n for n in nodes if n not in inner and ancestors.get(n))
    held = sorted(random.Random(seed).sample(leaves, int(len(leaves) * share)))
    kept = {c: s for c, s in ancestors.items() if c not in set(held)}
    return held, kept


def parent_of(node, ancestors):
    """The deepest ancestor (most ancestors of its own), ties by name."""
    return max(ancestors[node], key=lambda a: (len(ancestors.get(a, ())), a))


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    dim = raw[0]
    return raw.reshape(-1, dim + 1)[:, 1:].view(np.float32).copy()


def write_fvecs(path, x):
    x = np.asarray(x, dtype=np.float32)
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.int32)
    out[:, 0] = x.shape[1]
    out[:, 1:] = x.view(np.int32)
    out.tofile(path)


def radius(x, hyperbolic):
    norm = np.linalg.norm(x, axis=-1)
    return 2 * np.arctanh(np.minimum(norm, 1 - 1e-7)) if hyperbolic else norm


def place(parent_vectors, step, hyperbolic):
    """Points one radial `step` beyond each parent, on the ray through it."""
    norm = np.linalg.norm(parent_vectors, axis=1, keepdims=True)
    direction = parent_vectors / np.maximum(norm, 1e-12)
    r = radius(parent_vectors, hyperbolic)[:, None] + step
    return direction * (np.tanh(r / 2) if hyperbolic else r)


def evaluate(found, truth, held, parents, names, ancestors, k):
    """Parent at rank 1, parent in the top k, ancestor share of the top k; recall against truth."""
    at1 = in_k = share = recall = 0.0
    for row, leaf in enumerate(held):
        ids = [names[i] for i in found[row][:k] if i >= 0]
        at1 += ids[:1] == [parents[row]]
        in_k += parents[row] in ids
        share += sum(n in ancestors[leaf] for n in ids) / k
        if truth is not None:
            recall += len(set(found[row][:k]) & set(truth[row][:k])) / k
    q = len(held)
    out = {"parent_at_1": at1 / q, "parent_in_k": in_k / q, "ancestor_share": share / q}
    if truth is not None:
        out["recall"] = recall / q
    return out


def read_ivecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    return raw.reshape(-1, raw[0] + 1)[:, 1:]


def one_model(a, model, kept_path, held, ancestors):
    g, w = a.geodex, a.work
    emb, names_path = f"{w}/{model}.fvecs", f"{w}/{model}.names"
    cmd = [g, "embed", "--edges", kept_path, "--model", model, "--dim", str(a.dim), "--epochs", str(a.epochs)]
    cmd += ["--lr", a.lr, "--seed", str(a.seed), "--out", emb, "--names", names_path, "--quiet", "--json"]
    trained = json.loads(run(cmd))
    with open(names_path) as f:
        names = [n.rstrip("\n") for n in f]
    row = {n: i for i, n in enumerate(names)}
    x = read_fvecs(emb)
    hyperbolic = model != "euclidean"
    metric = "poincare" if hyperbolic else "l2"
    inner = {p for s in ancestors.values() for p in s}
    leaves = [n for n in names if n not in inner and ancestors.get(n)]
    steps = [
        radius(x[row[n]], hyperbolic) - radius(x[row[parent_of(n, ancestors)]], hyperbolic) for n in leaves
    ]
    step = float(np.mean(steps))
    parents = [parent_of(n, ancestors) for n in held]
    queries = place(x[[row[p] for p in parents]], step, hyperbolic)
    qpath, gt, index = f"{w}/{model}-held.fvecs", f"{w}/{model}-gt.ivecs", f"{w}/{model}.gdx"
    write_fvecs(qpath, queries)
    run(
        [
            g,
            "groundtruth",
            "--data",
            emb,
            "--queries",
            qpath,
            "--k",
            str(a.k),
            "--metric",
            metric,
            "--out",
            gt,
        ]
    )
    built = json.loads(
        run([g, "build", "--data", emb, "--out", index, "--metric", metric, "--json", "--quiet"])
    )
    truth = read_ivecs(gt)
    result = {
        "model": model,
        "lr": trained["details"].get("lr"),
        "nodes": len(names),
        "held_out": len(held),
        "mean_step": step,
        "m": built["m"],
        "exact": evaluate(truth, None, held, parents, names, ancestors, a.k),
        "by_ef": {},
    }
    for ef in a.ef.split(","):
        out = f"{w}/{model}-ef{ef}.ivecs"
        run([g, "search", "--index", index, "--queries", qpath, "--k", str(a.k), "--ef", ef, "--out", out])
        result["by_ef"][ef] = evaluate(read_ivecs(out), truth, held, parents, names, ancestors, a.k)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--geodex", default="target/release/geodex")
    ap.add_argument("--closure", required=True)
    ap.add_argument("--models", default="poincare,euclidean")
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--lr", default="0.1,0.3", help="passed to `geodex embed --lr` (a list: its grid)")
    ap.add_argument("--share", type=float, default=0.1, help="share of the leaves held out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ef", default="10,32")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", default="heldout")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    ancestors = read_closure(a.closure)
    held, kept = split_leaves(ancestors, a.share, a.seed)
    kept_path = f"{a.work}/kept.tsv"
    with open(kept_path, "w") as f:
        for child in sorted(kept):
            f.writelines(f"{child}\t{anc}\n" for anc in sorted(kept[child]))
    results = [one_model(a, m, kept_path, held, ancestors) for m in a.models.split(",")]
    with open(f"{a.out}/{a.tag}.json", "w") as f:
        json.dump(results, f, indent=1)
    print(
        "| model | M | held-out leaves | search | parent at rank 1 | parent in top 10 | ancestors in top 10 | recall@10 |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for r in results:
        rows = [("exact", r["exact"])] + [(f"HNSW ef {ef}", v) for ef, v in r["by_ef"].items()]
        for label, v in rows:
            rec = f"{v['recall']:.3f}" if "recall" in v else "—"
            print(
                f"| {r['model']} | {r['m']} | {r['held_out']} | {label} | {v['parent_at_1']:.3f} | "
                f"{v['parent_in_k']:.3f} | {v['ancestor_share']:.3f} | {rec} |"
            )


if __name__ == "__main__":
    main()
