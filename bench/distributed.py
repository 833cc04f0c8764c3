#!/usr/bin/env python3
"""geodex.distributed on a local Ray cluster (issue 21, item 3): recall against shard count at
equal per-shard ef under random routing, recall and work against nprobe under k-means routing,
and where a sharded query's time goes, next to one in-process geodex index.

For each data set: one index built in this process (`geodex.build`, M 16, ef_construction
200), then `ShardedIndex` with 1, 2, 4 and 8 shards (random routing, one replica each) and 8
shards under k-means routing, all built from the same rows. Queries run as one batch per call
(`knn_query` of all queries; each shard searches its part on one thread), timed end to end;
`last_query_stats` splits the time into the slowest shard's search, the merge and the rest
(routing, serialisation, Ray scheduling). Latency: single-query calls, median and p99.

    python3 bench/distributed.py                    # sift-debian and minilm-words-20k
    python3 bench/distributed.py --sets minilm --queries 500

Writes OUT/distributed.json and OUT/distributed.md (default OUT: bench/out/distributed; the
run of record is in bench/results/2026-11-30-distributed).
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


def routing_ceiling(home, probed, truth):
    """The recall@10 exact searches of the probed shards would reach: the share of each
    query's true neighbours stored in a shard it asks."""
    inside = (home[truth[:, :K]][:, :, None] == probed[:, None, :]).any(-1)
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


def sharded(base, metric, shards, routing, work):
    """A fresh sharded index of `base` in its own directory under `work`."""
    index = ShardedIndex(
        base.shape[1],
        metric,
        num_shards=shards,
        replicas=1,
        routing=routing,
        storage_path=tempfile.mkdtemp(prefix=f"{routing}-{shards}-", dir=work),
        sync=False,
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
    base = read_vecs(os.path.join(DATA, d, base_f)).astype(np.float32)
    queries = read_vecs(os.path.join(DATA, d, query_f)).astype(np.float32)[
        : args.queries
    ]
    truth = read_vecs(os.path.join(DATA, d, truth_f))[: args.queries]
    efs = [int(e) for e in args.ef.split(",")]
    out = {
        "n": len(base),
        "dim": base.shape[1],
        "metric": metric,
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
    for shards in (1, 2, 4, 8):
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
    index, search, built = sharded(base, metric, 8, "kmeans", work)
    out["kmeans_shard_sizes"] = index.shard_counts()
    home = index.shards_for(base)[:, 0]
    probed = index.shards_for(queries, 8)
    for ef in efs:
        for nprobe in (1, 2, 3, 4, 8):
            row = {
                "system": "sharded",
                "shards": 8,
                "routing": "kmeans",
                "nprobe": nprobe,
                "ef": ef,
            }
            row.update(timed_batch(search(ef, nprobe), queries, truth))
            row["routing_ceiling"] = routing_ceiling(home, probed[:, :nprobe], truth)
            out["rows"].append(row)
            print(name, row, flush=True)
    index.close()
    return out


def markdown(results):
    md = ["# geodex.distributed on a local Ray cluster (2 CPUs)", ""]
    for name, r in results.items():
        md += [
            f"### {name} (n = {r['n']}, {r['dim']}-d, {r['metric']}, {r['queries']} queries, recall@10)",
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
            ceiling = (
                f" ({row['routing_ceiling']:.4f})" if "routing_ceiling" in row else ""
            )
            lat = (
                f"{row['p50_ms']:.2f} / {row['p99_ms']:.2f}" if "p50_ms" in row else "–"
            )
            md.append(
                f"| {row['system']} | {row['routing']} | {row['shards']} | {row.get('nprobe', '–')} | {row['ef']} "
                f"| {row['recall']:.4f}{ceiling} | {row['mean_distances']:.0f} | {row['qps']:.0f} | {split} | {lat} |"
            )
        if "kmeans_shard_sizes" in r:
            md += ["", f"k-means shard sizes: {r['kmeans_shard_sizes']}"]
        md.append("")
    return "\n".join(md)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sets", default="sift,minilm")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--ef", default="16,64")
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
