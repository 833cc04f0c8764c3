#!/usr/bin/env python3
"""The check of SCALE.md's model on this machine (issue 21, item 4): up to 64 shard actors
under random routing, measured against what the model predicts from small runs.

Recall model (``predicted_recall``): a true neighbour lives in one shard, among that shard's
own top few, so the merged list finds it as often as the shard's search finds its local top
few — predicted from each shard actor asked alone, against brute force inside the shard.
Time model: a batch costs a + c·E, E the distance evaluations of the whole batch (every shard
shares the 2 cores, so the work adds up); a and c are fitted on the smallest shard counts and
the rest are predicted — where the measured time leaves the line, per-shard overheads (one Ray
call and one actor process per shard) take over.

    python3 bench/scale_sim.py                         # minilm-words-20k, S = 1, 4, 8, 16, 32, 64

Writes OUT/scale_sim.json and OUT/scale_sim.md.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import ray
from geodex.distributed import ShardedIndex

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peers import read_vecs, recall_at_k

DATA = os.path.join(os.path.dirname(HERE), "..", "shared", "data", "minilm-words-20k")
K = 10


def predicted_recall(index, base, ids, queries, ef):
    """The merged recall@10 the recall model predicts from each shard alone.

    A shard holding m of a query's global top k holds them as its own top m, so the merged
    list finds them as often as the shard's search finds its local top m. m is Binomial(k, 1/S)
    under random routing; R(m), the share of a shard's local top m in its returned k, is
    measured on every shard against brute force inside it; the prediction is the
    neighbour-weighted mean Σ P(m)·m·R(m) / Σ P(m)·m."""
    unit = base / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    home = index.shard_of(ids)
    shares = np.zeros(K + 1)  # shares[m]: mean share of the local top m found
    for s in range(index.num_shards):
        members = np.nonzero(home == s)[0]
        found, _, _, _ = ray.get(index.replica_actors(s)[0].search.remote(queries, K, ef))
        local = ids[members][np.argsort(-(q @ unit[members].T), axis=1, kind="stable")[:, :K]]
        hit = np.array([np.isin(t, f) for t, f in zip(local, found)])  # queries × K
        shares[1:] += (np.cumsum(hit, axis=1) / np.arange(1, K + 1)).mean(0) / index.num_shards
    m = np.arange(K + 1)
    p = (
        np.array([math.comb(K, j) for j in m])
        * (1 / index.num_shards) ** m
        * (1 - 1 / index.num_shards) ** (K - m)
    )
    return float((p * m * shares).sum() / (p * m).sum())


def batch(index, queries, truth, ef):
    """Recall, distance evaluations and seconds of one batch call (best of three)."""
    best = None
    for _ in range(3):
        start = time.perf_counter()
        found, _ = index.knn_query(queries, k=K, ef=ef)
        seconds = time.perf_counter() - start
        if best is None or seconds < best[1]:
            best = (
                found,
                seconds,
                index.last_query_stats["mean_distances"] * len(queries),
            )
    found, seconds, evaluations = best
    return recall_at_k(found, truth, K), evaluations, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", default="1,4,8,16,32,64")
    ap.add_argument(
        "--fit",
        type=int,
        default=3,
        help="shard counts (smallest first) the time model is fitted on",
    )
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--ef", type=int, default=32)
    ap.add_argument("--out", default=os.path.join(HERE, "out", "scale_sim"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    base = read_vecs(os.path.join(DATA, "base.fvecs"))
    queries = read_vecs(os.path.join(DATA, "query.fvecs"))[: args.queries]
    truth = read_vecs(os.path.join(DATA, "groundtruth.ivecs"))[: args.queries]
    ids = np.arange(len(base), dtype=np.uint64)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = []
    with tempfile.TemporaryDirectory(prefix="geodex-scale-sim-") as work:
        for shards in (int(s) for s in args.shards.split(",")):
            index = ShardedIndex(
                base.shape[1],
                "cosine",
                num_shards=shards,
                replicas=1,
                storage_path=os.path.join(work, str(shards)),
                sync=False,
            )
            index.add_items(base, ids)
            merged, evaluations, seconds = batch(index, queries, truth, args.ef)
            row = {
                "shards": shards,
                "shard_size": len(base) / shards,
                "merged_recall": merged,
                "predicted_recall": predicted_recall(index, base, ids, queries, args.ef),
                "evaluations": evaluations,
                "seconds": seconds,
            }
            rows.append(row)
            print(row, flush=True)
            for s in range(shards):
                ray.kill(index.replica_actors(s)[0])
    ray.shutdown()
    fit = rows[: args.fit]
    design = np.array([[1.0, r["evaluations"]] for r in fit])
    coef, *_ = np.linalg.lstsq(design, np.array([r["seconds"] for r in fit]), rcond=None)
    for r in rows:
        r["predicted_seconds"] = float(coef @ [1.0, r["evaluations"]])
    model = {
        "a_s": coef[0],
        "c_s_per_evaluation": coef[1],
        "fitted_on": args.fit,
    }
    with open(os.path.join(args.out, "scale_sim.json"), "w") as f:
        json.dump(
            {"ef": args.ef, "queries": len(queries), "rows": rows, "time_model": model},
            f,
            indent=1,
        )
    md = [
        f"# Scale model check: minilm-words-20k, random routing, ef {args.ef}, {len(queries)} queries per batch",
        "",
        (
            f"Time model a + c·E fitted on S = {[r['shards'] for r in fit]}: a = {coef[0] * 1e3:.2f} ms, "
            f"c = {coef[1] * 1e9:.1f} ns per distance evaluation."
        ),
        "",
        (
            "| shards | vectors per shard | merged recall@10 | predicted from the shards alone "
            "| distance evals per batch | batch seconds | predicted seconds |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        md.append(
            f"| {r['shards']} | {r['shard_size']:.0f} | {r['merged_recall']:.4f} | {r['predicted_recall']:.4f} "
            f"| {r['evaluations']:,.0f} | {r['seconds']:.3f} | {r['predicted_seconds']:.3f} |"
        )
    with open(os.path.join(args.out, "scale_sim.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
