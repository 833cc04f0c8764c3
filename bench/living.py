#!/usr/bin/env python3
"""The living index on sift-debian (issue 8): churn recall, insert throughput, delete cost.

1. Churn: build the 100k index; delete a random 50 % (seeded) and insert those rows back
   under their keys; recall@10 per ef against the original ground truth, next to the fresh
   build's, then again after `compact`; `graph.unreachable` (live nodes no search reaches).
2. Insert throughput: build on the first 90k rows, then `geodex insert` the next rows with
   batch 1 and batch 1000, each with and without the fsync per batch. Rows/s are measured
   between the first and the last `durable N` line (the steady state: no open, no checkpoint);
   the whole command's wall time is reported too.
3. Delete + repair: delete 1 %, 10 % and 50 % of the 100k keys in one batch each (from fresh
   copies); seconds and adjacency lists rewritten.

    python3 bench/living.py --geodex /tmp/geodex-bench

Searches single-threaded, best of `--runs`; inserts and repairs on all cores. Writes
OUT/living.json and OUT/living.md.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SIFT = os.path.join(REPO, "..", "shared", "data", "sift-debian")


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def read_bvecs(path):
    raw = np.fromfile(path, dtype=np.uint8)
    dim = int(raw[:4].view(np.int32)[0])
    return raw.reshape(-1, 4 + dim)[:, 4:]


def write_bvecs(path, rows):
    n, dim = rows.shape
    out = np.empty((n, 4 + dim), dtype=np.uint8)
    out[:, :4] = np.frombuffer(np.int32(dim).tobytes(), dtype=np.uint8)
    out[:, 4:] = rows
    out.tofile(path)


def write_keys(path, keys):
    with open(path, "w") as f:
        f.write("".join(f"{k}\n" for k in keys))


def bench(g, index, efs, runs, gt=None):
    gt = gt or os.path.join(SIFT, "groundtruth.ivecs")
    out = run(
        [
            g,
            "bench",
            "--index",
            index,
            "--queries",
            os.path.join(SIFT, "query.bvecs"),
            "--groundtruth",
            gt,
            "--ef",
            efs,
            "--runs",
            str(runs),
            "--json",
        ]
    ).stdout
    return {r["ef"]: (r["recall"], r["qps"]) for r in json.loads(out)["rows"]}


def info(g, index):
    return json.loads(run([g, "info", "--index", index, "--json"]).stdout)


def timed_change(cmd):
    """Runs an insert/delete, timestamping each `durable N` line as it arrives."""
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stamps = []
    for line in p.stdout:
        stamps.append((int(line.split()[1]), time.perf_counter() - start))
    err = p.stderr.read()
    assert p.wait() == 0, err
    return stamps, time.perf_counter() - start, err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--geodex", default=os.path.join(REPO, "target", "release", "geodex"))
    ap.add_argument("--ef", default="16,32,64,128")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default="/tmp/geodex-living")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "living"))
    args = ap.parse_args()
    g, w = args.geodex, args.work
    os.makedirs(w, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    p = lambda name: os.path.join(w, name)
    base = read_bvecs(os.path.join(SIFT, "base.bvecs"))
    n = len(base)
    res = {"n": n}

    # 1. Churn.
    t = time.perf_counter()
    run([g, "build", "--data", os.path.join(SIFT, "base.bvecs"), "--out", p("fresh.gdx"), "--quiet"])
    res["build_seconds"] = time.perf_counter() - t
    res["fresh"] = bench(g, p("fresh.gdx"), args.ef, args.runs)
    rng = random.Random(args.seed)
    gone = sorted(rng.sample(range(n), n // 2))
    write_keys(p("gone.txt"), gone)
    write_bvecs(p("gone.bvecs"), base[gone])
    shutil.copy(p("fresh.gdx"), p("churn.gdx"))
    _, del_s, _del_err = timed_change(
        [g, "delete", "--index", p("churn.gdx"), "--keys", p("gone.txt"), "--batch", str(n)]
    )
    res["churn_delete_seconds"] = del_s
    res["after_delete_unreachable"] = info(g, p("churn.gdx"))["graph"]["unreachable"]
    _, ins_s, _ = timed_change(
        [
            g,
            "insert",
            "--index",
            p("churn.gdx"),
            "--data",
            p("gone.bvecs"),
            "--keys",
            p("gone.txt"),
            "--batch",
            "5000",
            "--quiet",
        ]
    )
    res["churn_insert_seconds"] = ins_s
    i = info(g, p("churn.gdx"))
    res["churned_count"], res["churned_unreachable"] = i["count"], i["graph"]["unreachable"]
    res["churned"] = bench(g, p("churn.gdx"), args.ef, args.runs)
    run([g, "compact", "--index", p("churn.gdx")])
    i = info(g, p("churn.gdx"))
    res["compacted_unreachable"] = i["graph"]["unreachable"]
    res["compacted"] = bench(g, p("churn.gdx"), args.ef, args.runs)

    # 2. Insert throughput into a 90k index.
    write_bvecs(p("first90k.bvecs"), base[:90_000])
    write_bvecs(p("last10k.bvecs"), base[90_000:])
    run([g, "build", "--data", p("first90k.bvecs"), "--out", p("90k.gdx"), "--quiet"])
    res["insert"] = []
    for batch, rows in [(1, 500), (1000, 10_000)]:
        for fsync in (True, False):
            shutil.copy(p("90k.gdx"), p("ins.gdx"))
            cmd = [
                g,
                "insert",
                "--index",
                p("ins.gdx"),
                "--data",
                p("last10k.bvecs"),
                "--limit",
                str(rows),
                "--batch",
                str(batch),
                "--quiet",
            ] + ([] if fsync else ["--no-fsync"])
            stamps, wall, _ = timed_change(cmd)
            (n0, t0), (n1, t1) = stamps[0], stamps[-1]
            res["insert"].append(
                {
                    "batch": batch,
                    "fsync": fsync,
                    "rows": rows,
                    "wall_seconds": wall,
                    "steady_rows_per_s": (n1 - n0) / (t1 - t0),
                    "unreachable": info(g, p("ins.gdx"))["graph"]["unreachable"],
                }
            )

    # 3. Delete + repair cost.
    res["delete"] = []
    for share in (0.01, 0.1, 0.5):
        keys = sorted(random.Random(args.seed + 1).sample(range(n), int(n * share)))
        write_keys(p("del.txt"), keys)
        shutil.copy(p("fresh.gdx"), p("del.gdx"))
        _, wall, err = timed_change(
            [g, "delete", "--index", p("del.gdx"), "--keys", p("del.txt"), "--batch", str(n)]
        )
        lists = int(re.search(r"repaired (\d+) adjacency lists", err).group(1))
        res["delete"].append(
            {
                "share": share,
                "keys": len(keys),
                "wall_seconds": wall,
                "lists_repaired": lists,
                "unreachable": info(g, p("del.gdx"))["graph"]["unreachable"],
            }
        )

    with open(os.path.join(args.out, "living.json"), "w") as f:
        json.dump(res, f, indent=2)
    efs = [int(e) for e in args.ef.split(",")]
    md = [
        "# Living index on sift-debian (100k, L2, M = 16, ef_construction = 200)",
        "",
        (
            f"Build: {res['build_seconds']:.1f} s. Churn: delete {n // 2} random keys in {res['churn_delete_seconds']:.1f} s "
            f"(unreachable live nodes after: {res['after_delete_unreachable']}), insert them back in "
            f"{res['churn_insert_seconds']:.1f} s; live {res['churned_count']}, unreachable {res['churned_unreachable']} "
            f"(after compact: {res['compacted_unreachable']})."
        ),
        "",
        "| ef | fresh recall / QPS | churned recall / QPS | Δ recall | compacted recall / QPS |",
        "|---|---|---|---|---|",
    ]
    for e in efs:
        f, c, k = res["fresh"][e], res["churned"][e], res["compacted"][e]
        md.append(
            f"| {e} | {f[0]:.4f} / {f[1]:,.0f} | {c[0]:.4f} / {c[1]:,.0f} | {c[0] - f[0]:+.4f} | {k[0]:.4f} / {k[1]:,.0f} |"
        )
    md += [
        "",
        "Insert into the 90k index (rows 90,000…):",
        "",
        "| batch | fsync | rows | steady rows/s | command wall s | unreachable after |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["insert"]:
        md.append(
            f"| {r['batch']} | {'yes' if r['fsync'] else 'no'} | {r['rows']} | {r['steady_rows_per_s']:,.0f} | "
            f"{r['wall_seconds']:.2f} | {r['unreachable']} |"
        )
    md += [
        "",
        "Delete + repair from the fresh 100k index, one batch:",
        "",
        "| deleted | keys | command wall s | lists rewritten | unreachable after |",
        "|---|---|---|---|---|",
    ]
    for r in res["delete"]:
        md.append(
            f"| {r['share']:.0%} | {r['keys']} | {r['wall_seconds']:.2f} | {r['lists_repaired']} | {r['unreachable']} |"
        )
    with open(os.path.join(args.out, "living.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
