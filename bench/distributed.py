#!/usr/bin/env python3
"""geodex.distributed on a local Ray cluster (issue 21, item 3): recall against shard count at
equal per-shard ef under random routing, recall and work against nprobe under k-means routing,
and where a sharded query's time goes, next to one in-process geodex index.

For each data set: one index built in this process (`geodex.build`, M 16, ef_construction
200), then `ShardedIndex` with 1, 2, 4 and 8 shards (random routing, one replica each) and 8
shards under k-means routing — plain, and with SPANN-style boundary copies (a vector also
stored in each further cell whose centroid is within (1 + ε) of its nearest, up to a cap) —
all built from the same rows. Queries run as one batch per call
(`knn_query` of all queries; each shard searches its part on one thread), timed end to end;
`last_query_stats` splits the time into the slowest shard's search, the merge and the rest
(routing, serialisation, Ray scheduling). Latency: single-query calls, median and p99.

    python3 bench/distributed.py                    # sift-debian and minilm-words-20k
    python3 bench/distributed.py --sets minilm --queries 500
    python3 bench/distributed.py --parts kmeans,copies --copies 0.1:2,0.1:8

Writes OUT/distributed.json and OUT/distributed.md (default OUT: bench/out/distributed; the
runs of record are in bench/results/2026-11-30-distributed and, for the boundary copies,
bench/results/2026-11-30-distributed-copies).
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import geodex
import numpy as np
import ray
from geodex.distributed import ShardedIndex

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peers import read_vecs, recall_at_k

DATA = os.path.join(os.path.dirname(HERE), "..", "shared", "data")
SETS = {
    "sift": ("sift-debian", "base.bvecs", "query.bvecs", "groundtruth.ivecs", "l2"),
    "minilm": (
        "minilm-words-20k",
        "base.fvecs",
        "query.fvecs",
        "groundtruth.ivecs",
        "cosine",
    ),
}
K = 10


def timed_batch(search, queries, truth):
    """Recall@10, queries per second and the stats of one batch call (best of two)."""
    best = None
    for _ in range(2):
        start = time.perf_counter()
        found, stats = search(queries)
        seconds = time.perf_counter() - start
        if best is None or seconds < best[1]:
            best = (found, seconds, stats)
    found, seconds, stats = best
    return {
        "recall": recall_at_k(found, truth, K),
        "qps": len(queries) / seconds,
        **stats,
    }


def latency(search, queries):
    """Median and p99 milliseconds of single-query calls."""
    ms = []
    for q in queries:
        start = time.perf_counter()
        search(q[None, :])
        ms.append(1000 * (time.perf_counter() - start))
    return {"p50_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99))}


def routing_ceiling(placed, probed, truth):
    """The recall@10 exact searches of the probed shards would reach: the share of each
    query's true neighbours stored in a shard it asks (`placed`: vectors × shards)."""
    stored = placed[truth[:, :K]]  # queries × K × shards
    inside = np.take_along_axis(stored, probed[:, None, :], axis=2).any(-1)
    return float(inside.mean())


def single_index(base, metric, work):
    index = geodex.build(
        os.path.join(tempfile.mkdtemp(dir=work), "single.gdx"),
        base,
        metric=metric,
        num_threads=2,
    )

    def search(ef):
        def run(q):
            found, _, stats = index.search(q, k=K, ef=ef)
            return found, {"mean_distances": stats["mean_distances"]}

        return run

    return search


def sharded(base, metric, shards, routing, work, **copies):
    """A fresh sharded index of `base` in its own directory under `work` (byte rows stay
    bytes in the shards)."""
    index = ShardedIndex(
        base.shape[1],
        metric,
        num_shards=shards,
        replicas=1,
        routing=routing,
        storage_path=tempfile.mkdtemp(prefix=f"{routing}-{shards}-", dir=work),
        sync=False,
        dtype="uint8" if base.dtype == np.uint8 else "float32",
        **copies,
    )
    start = time.perf_counter()
    index.add_items(base, np.arange(len(base)))
    built = time.perf_counter() - start

    def search(ef, nprobe=None):
        def run(q):
            found, _ = index.knn_query(q, k=K, ef=ef, nprobe=nprobe)
            return found, dict(index.last_query_stats)

        return run

    return index, search, built


def bench_set(name, args, work):
    d, base_f, query_f, truth_f, metric = SETS[name]
    element = np.uint8 if args.bytes and base_f.endswith(".bvecs") else np.float32
    base = read_vecs(os.path.join(DATA, d, base_f)).astype(element)
    queries = read_vecs(os.path.join(DATA, d, query_f)).astype(element)[: args.queries]
    truth = read_vecs(os.path.join(DATA, d, truth_f))[: args.queries]
    efs = [int(e) for e in args.ef.split(",")]
    out = {
        "n": len(base),
        "dim": base.shape[1],
        "metric": metric,
        "element": np.dtype(element).name,
        "queries": len(queries),
        "rows": [],
    }
    single = single_index(base, metric, work)
    for ef in efs:
        row = {"system": "single", "shards": 1, "routing": "-", "ef": ef}
        row.update(timed_batch(single(ef), queries, truth))
        row.update(latency(single(ef), queries[: args.latency_queries]))
        out["rows"].append(row)
        print(name, row, flush=True)
    for shards in (1, 2, 4, 8) if "random" in args.parts else ():
        index, search, built = sharded(base, metric, shards, "random", work)
        for ef in efs:
            row = {
                "system": "sharded",
                "shards": shards,
                "routing": "random",
                "ef": ef,
                "build_s": built,
            }
            row.update(timed_batch(search(ef), queries, truth))
            row.update(latency(search(ef), queries[: args.latency_queries]))
            out["rows"].append(row)
            print(name, row, flush=True)
        index.close()
    variants = [("kmeans", {})] if "kmeans" in args.parts else []
    if "copies" in args.parts:
        for spec in args.copies.split(","):
            epsilon, cap = spec.split(":")
            variants.append(
                (
                    f"kmeans + copies (ε {epsilon}, ≤ {cap})",
                    {"boundary_epsilon": float(epsilon), "max_copies": int(cap)},
                )
            )
    for routing, copies in variants:
        kmeans_rows(name, base, queries, truth, metric, efs, routing, copies, out, work)
    return out


def kmeans_rows(name, base, queries, truth, metric, efs, routing, copies, out, work):
    """Rows of 8 shards under k-means routing (with boundary copies when `copies` asks)."""
    index, search, built = sharded(base, metric, 8, "kmeans", work, **copies)
    placed = index.placement(base)
    pruned = index.placement(base, rng_rule=True)  # what SPANN's RNG rule would keep
    out.setdefault("kmeans_shard_sizes", {})[routing] = index.shard_counts()
    probed = index.shards_for(queries, 8)
    for ef in efs:
        for nprobe in (1, 2, 3, 4, 8):
            row = {
                "system": "sharded",
                "shards": 8,
                "routing": routing,
                "copies_per_vector": float(placed.sum(1).mean()),
                "copies_with_rng_rule": float(pruned.sum(1).mean()),
                "nprobe": nprobe,
                "ef": ef,
                "build_s": built,
            }
            row.update(timed_batch(search(ef, nprobe), queries, truth))
            row["routing_ceiling"] = routing_ceiling(placed, probed[:, :nprobe], truth)
            out["rows"].append(row)
            print(name, row, flush=True)
    index.close()


def markdown(results):
    md = ["# geodex.distributed on a local Ray cluster (2 CPUs)", ""]
    for name, r in results.items():
        md += [
            f"### {name} (n = {r['n']}, {r['dim']}-d, {r['metric']}, {r.get('element', 'float32')}, {r['queries']} queries, recall@10)",
            "",
            (
                "| system | routing | shards | nprobe | ef | recall (routing ceiling) | dist. evals / query | QPS (batch) "
                "| shard search / merge / rest of a batch | p50 / p99 ms (1 query) |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in r["rows"]:
            split = "–"
            if "shard_seconds" in row:
                rest = row["seconds"] - row["shard_seconds"] - row["merge_seconds"]
                split = " / ".join(
                    f"{100 * x / row['seconds']:.0f} %"
                    for x in (row["shard_seconds"], row["merge_seconds"], rest)
                )
            ceiling = f" ({row['routing_ceiling']:.4f})" if "routing_ceiling" in row else ""
            lat = f"{row['p50_ms']:.2f} / {row['p99_ms']:.2f}" if "p50_ms" in row else "–"
            copies = (
                f", {row['copies_per_vector']:.2f} copies / vector"
                if row.get("copies_per_vector", 1) > 1
                else ""
            )
            md.append(
                f"| {row['system']} | {row['routing']}{copies} | {row['shards']} | {row.get('nprobe', '–')} | {row['ef']} "
                f"| {row['recall']:.4f}{ceiling} | {row['mean_distances']:.0f} | {row['qps']:.0f} | {split} | {lat} |"
            )
        for routing, sizes in r.get("kmeans_shard_sizes", {}).items():
            md += ["", f"shard sizes, {routing}: {sizes}"]
        md.append("")
    return "\n".join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="sift,minilm")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--ef", default="16,64")
    ap.add_argument("--parts", default="random,kmeans,copies")
    ap.add_argument(
        "--bytes",
        action="store_true",
        help="keep byte sets (SIFT) as bytes: byte indexes, in process and in the shards",
    )
    ap.add_argument(
        "--copies",
        default="0.1:2,0.1:4,0.1:8",
        help="boundary copies to measure, EPSILON:MAX_COPIES,...",
    )
    ap.add_argument("--out", default=os.path.join(HERE, "out", "distributed"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = {}
    with tempfile.TemporaryDirectory(prefix="geodex-distributed-") as work:
        for name in args.sets.split(","):
            results[name] = bench_set(name, args, work)
    ray.shutdown()
    results["machine"] = {
        "cpu": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    with open(os.path.join(args.out, "distributed.json"), "w") as f:
        json.dump(results, f, indent=1)
    machine = results.pop("machine")
    with open(os.path.join(args.out, "distributed.md"), "w") as f:
        f.write(markdown(results) + f"\n{machine}\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
