#!/usr/bin/env python3
"""geodex against hnswlib, FAISS (IndexHNSWFlat) and usearch, on the same machine, in one run.

Every system — geodex through its Python package (`geodex.Index`, hnswlib's API) like the
peers through theirs — runs in the same process shape and the same Python loop: one process
loads the data as float32, builds (all cores), then searches one query per call on one thread
(the ann-benchmarks convention), and once more as one batch call on `--threads` threads. Its
peak RSS is that process's. The systems build one after another; then all of them stay alive
and their timed passes are interleaved — for each ef, each of `--runs` rounds times one pass of
every system in turn, and the best round counts — so that a slow minute of a noisy machine
falls on every system alike instead of on whichever ran then. Recall is computed here, in one
place, from the ids every system returned, against the same ground truth. `geodex-cli` is a
reference row outside the ratios: the CLI's own Rust loop on the data as stored (SIFT as bytes,
which the peers cannot search).

A data set is a name under --data-dir or a directory path (e.g. a larger MiniLM set made with
the shared generator); names starting with `sift` are bytes under L2, others float32 cosine.

Writes, per data set, into --out: peers-<name>.csv (system,ef,recall,qps,batch_qps,build_s,
index_bytes,rss_bytes), peers-<name>.png (recall vs QPS, log y) and peers-<name>.md (best QPS at
recall >= 0.90/0.95/0.99 from measured points only, and geodex's ratio to the best peer).

Usage: python3 bench/peers.py [--data-dir ../shared/data] [--datasets sift-debian,minilm-words-20k,/path/minilm-words-200k]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATASETS = ["sift-debian", "minilm-words-20k"]
PEERS = ["hnswlib", "faiss", "usearch"]
# Recall targets of the summary; each system is also timed at its own smallest ef reaching each.
TARGETS = (0.90, 0.95, 0.99)
# Every system the worker runs; geodex first so a partial run still shows it.
SYSTEMS = ["geodex"] + PEERS


def read_vecs(path):
    """TEXMEX .fvecs/.bvecs/.ivecs as a 2-D array."""
    dtype = {"fvecs": np.float32, "ivecs": np.int32, "bvecs": np.uint8}[path.rsplit(".", 1)[-1]]
    raw = np.fromfile(path, dtype=np.uint8)
    dim = int(raw[:4].view("<i4")[0])
    rows = raw.reshape(-1, 4 + dim * np.dtype(dtype).itemsize)
    return rows[:, 4:].copy().view(dtype).reshape(len(rows), dim)


def write_vecs(path, a):
    """A 2-D float32/int32/uint8 array as TEXMEX .fvecs/.ivecs/.bvecs (the inverse of `read_vecs`)."""
    a = np.ascontiguousarray(a)
    header = np.full((len(a), 1), a.shape[1], "<i4").view(np.uint8)
    np.concatenate([header, a.view(np.uint8).reshape(len(a), -1)], axis=1).tofile(path)


def recall_at_k(ids, truth, k):
    """|returned ∩ true top-k| / k averaged over queries (ARCHITECTURE.md §5)."""
    return float(np.mean([len(set(r[:k].tolist()) & set(t[:k].tolist())) / k for r, t in zip(ids, truth)]))


# ---------------------------------------------------------------- peers, one per process


def peer_build(system, X, metric, m, efc, threads, path):
    d = X.shape[1]
    if system in ("geodex", "hnswlib"):
        # The same calls for both: geodex.Index is a drop-in for hnswlib.Index.
        hnswlib = __import__(system)

        ix = hnswlib.Index(space={"l2": "l2", "cosine": "cosine"}[metric], dim=d)
        ix.init_index(max_elements=len(X), ef_construction=efc, M=m, random_seed=42)
        ix.set_num_threads(threads)
        ix.add_items(X, np.arange(len(X)))
        ix.set_num_threads(1)
        ix.save_index(path)
        return ix
    if system == "faiss":
        import faiss

        faiss.omp_set_num_threads(threads)
        fm = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        ix = faiss.IndexHNSWFlat(d, m, fm)
        ix.hnsw.efConstruction = efc
        ix.add(X)
        faiss.omp_set_num_threads(1)
        faiss.write_index(ix, path)
        return ix
    if system == "usearch":
        from usearch.index import Index

        ix = Index(
            ndim=d,
            metric={"l2": "l2sq", "cosine": "cos"}[metric],
            dtype="f32",
            connectivity=m,
            expansion_add=efc,
        )
        ix.add(np.arange(len(X)), X, threads=threads)
        ix.save(path)
        return ix
    raise ValueError(system)


def set_ef(system, ix, ef):
    """Sets the search beam once per sweep point, outside the timed loop."""
    if system in ("geodex", "hnswlib"):
        ix.set_ef(ef)
    elif system == "faiss":
        ix.hnsw.efSearch = ef
    elif system == "usearch":
        ix.expansion_search = ef


def peer_search_fn(system, ix, k):
    """One query (a 1-D array) in, its k ids out: the call the timed loop makes."""
    if system in ("geodex", "hnswlib"):
        return lambda q: ix.knn_query(q, k=k)[0][0]
    if system == "faiss":
        return lambda q: ix.search(q[None, :], k)[1][0]
    if system == "usearch":
        return lambda q: ix.search(q, k, threads=1).keys
    raise ValueError(system)


def peer_batch_fn(system, ix, k, threads):
    """All queries in one call on `threads` threads: the batch path the timed batch makes."""
    if system in ("geodex", "hnswlib"):
        return lambda Q: ix.knn_query(Q, k=k, num_threads=threads)
    if system == "faiss":
        import faiss

        def search(Q):
            faiss.omp_set_num_threads(threads)
            try:
                return ix.search(Q, k)
            finally:
                faiss.omp_set_num_threads(1)

        return search
    if system == "usearch":
        return lambda Q: ix.search(Q, k, threads=threads)
    raise ValueError(system)


def batch_ids(system, result):
    """The ids array of what `peer_batch_fn`'s search returned."""
    if system in ("geodex", "hnswlib"):
        return result[0]
    if system == "faiss":
        return result[1]
    return result.keys


def dataset_files(name):
    """(base, queries, ground truth, metric) file names of a TEXMEX data set, by its name."""
    if name.startswith("sift"):
        return "base.bvecs", "query.bvecs", "groundtruth.ivecs", "l2"
    return "base.fvecs", "query.fvecs", "groundtruth.ivecs", "cosine"


def worker(args):
    """Builds one system, then answers commands on stdin, one JSON line each: `{"ef": e}` times
    one single-query pass and one batch pass at ef e (ids of the single-query pass saved for the
    driver) and replies with their QPS; `{"probe": e}` saves the batch pass's ids at ef e,
    untimed; `{"quit": true}` ends the process. Replies on stdout."""
    X = read_vecs(args.base).astype(np.float32)
    Q = read_vecs(args.queries).astype(np.float32)
    if args.metric == "cosine":
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    path = os.path.join(args.workdir, f"{args.system}.index")
    t = time.perf_counter()
    ix = peer_build(args.system, X, args.metric, args.m, args.efc, args.threads, path)
    build_s = time.perf_counter() - t
    search = peer_search_fn(args.system, ix, args.k)
    batch = peer_batch_fn(args.system, ix, args.k, args.threads)
    for _ in range(2):  # warm-up: caches, and geodex packs its graph for search after 512 calls
        for q in Q[:512]:
            search(q)
    reply({"build_s": build_s, "index_bytes": os.path.getsize(path)})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("quit"):
            break
        if "probe" in cmd:  # untimed: the batch's ids at this ef, for the driver's recall
            set_ef(args.system, ix, cmd["probe"])
            ids = np.asarray(batch_ids(args.system, batch(Q)), dtype=np.int64)
            np.save(os.path.join(args.workdir, f"{args.system}-probe.npy"), ids)
            reply({})
            continue
        set_ef(args.system, ix, cmd["ef"])
        t = time.perf_counter()
        found = [search(q) for q in Q]
        el = time.perf_counter() - t
        np.save(
            os.path.join(args.workdir, f"{args.system}-ef{cmd['ef']}.npy"),
            np.stack([np.asarray(i, dtype=np.int64) for i in found]),
        )
        reply({"qps": len(Q) / el, "batch_qps": len(Q) / timed(lambda: batch(Q))})


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def timed(call):
    t = time.perf_counter()
    call()
    return time.perf_counter() - t


# ---------------------------------------------------------------- geodex through its CLI


def geodex(args, work, base, queries, metric, truth):
    exe = os.path.join(REPO, "target", "release", "geodex")
    index = os.path.join(work, "geodex.gdx")
    build, rss_build = measured(
        [
            exe,
            "build",
            "--data",
            base,
            "--out",
            index,
            "--metric",
            metric,
            "--m",
            str(args.m),
            "--ef-construction",
            str(args.efc),
            "--threads",
            str(args.threads),
            "--json",
            "--quiet",
        ]
    )
    build = json.loads(build)
    gt = os.path.join(work, "gt.ivecs")
    write_ivecs(gt, truth)
    efs = ",".join(map(str, args.efs))
    bench, rss_bench = measured(
        [
            exe,
            "bench",
            "--index",
            index,
            "--queries",
            queries,
            "--groundtruth",
            gt,
            "--k",
            str(args.k),
            "--ef",
            efs,
            "--threads",
            "1",
            "--runs",
            str(args.runs),
            "--json",
            "--quiet",
        ]
    )
    rows = []
    for r in json.loads(bench)["rows"]:
        out = os.path.join(work, f"geodex-ef{r['ef']}.ivecs")
        measured(
            [
                exe,
                "search",
                "--index",
                index,
                "--queries",
                queries,
                "--k",
                str(args.k),
                "--ef",
                str(r["ef"]),
                "--threads",
                "1",
                "--out",
                out,
                "--quiet",
            ]
        )
        rows.append({"ef": r["ef"], "qps": r["qps"], "ids": read_vecs(out), "batch_qps": float("nan")})
    return {
        "build_s": build["build_seconds"],
        "index_bytes": os.path.getsize(index),
        "rss_bytes": max(rss_build, rss_bench),
        "rows": rows,
    }


def measured(cmd):
    """Runs cmd; returns (stdout, its peak RSS in bytes)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {err.read().strip()}")
        return out.read(), usage.ru_maxrss * 1024


def write_ivecs(path, a):
    a = np.asarray(a, dtype=np.int32)
    out = np.empty((a.shape[0], a.shape[1] + 1), dtype=np.int32)
    out[:, 0] = a.shape[1]
    out[:, 1:] = a
    out.tofile(path)


# ---------------------------------------------------------------- driver


def run_dataset(args, spec):
    d = spec if os.path.isdir(spec) else os.path.join(args.data_dir, spec)
    name = os.path.basename(os.path.normpath(d))
    base_f, query_f, gt_f, metric = dataset_files(name)
    base, queries = os.path.join(d, base_f), os.path.join(d, query_f)
    truth = read_vecs(os.path.join(d, gt_f))[:, : args.k]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        workers = {}
        for system in SYSTEMS:  # builds one at a time: build times are not shared
            print(f"[{name}] {system} builds ...", file=sys.stderr, flush=True)
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                system,
                "--base",
                base,
                "--queries",
                queries,
                "--metric",
                metric,
                "--workdir",
                work,
                "--m",
                str(args.m),
                "--efc",
                str(args.efc),
                "--threads",
                str(args.threads),
                "--k",
                str(args.k),
            ]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            workers[system] = (proc, ask(proc, None))
        best, measured_efs = {}, {system: [] for system in workers}

        def sweep(points):
            """Timed passes at `points` (one {system: ef} per point), interleaved in rounds."""
            for point in points:
                print(f"[{name}] ef {point} ...", file=sys.stderr, flush=True)
                for _ in range(args.runs):  # interleaved rounds: every system once per round
                    for system, ef in point.items():
                        r = ask(workers[system][0], {"ef": ef})
                        old = best.get((system, ef), (0.0, 0.0))
                        best[(system, ef)] = (max(old[0], r["qps"]), max(old[1], r["batch_qps"]))
                for system, ef in point.items():
                    measured_efs[system].append(ef)
                    shutil.copy(
                        os.path.join(work, f"{system}-ef{ef}.npy"),
                        os.path.join(work, f"{system}-keep{ef}.npy"),
                    )

        sweep([{system: ef for system in workers} for ef in args.efs])
        # Each system's own smallest ef reaching each target recall, then timed like the grid:
        # a grid point just short of a target would otherwise charge a system the next one.
        recall_of = {
            (s, ef): recall_at_k(np.load(os.path.join(work, f"{s}-keep{ef}.npy")), truth, args.k)
            for s in workers
            for ef in args.efs
        }
        found = {
            s: [smallest_ef(workers[s][0], s, t, recall_of, args, work, truth) for t in TARGETS]
            for s in workers
        }
        print(f"[{name}] smallest ef per target {TARGETS}: {found}", file=sys.stderr, flush=True)
        sweep(
            [
                pt
                for j in range(len(TARGETS))
                if (
                    pt := {
                        s: found[s][j] for s in workers if found[s][j] and found[s][j] not in measured_efs[s]
                    }
                )
            ]
        )
        for system, (proc, built) in workers.items():
            proc.stdin.write(json.dumps({"quit": True}) + "\n")
            proc.stdin.close()
            _, status, usage = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"{system} worker failed")
            for ef in sorted(set(measured_efs[system])):
                ids = np.load(os.path.join(work, f"{system}-keep{ef}.npy"))
                qps, batch_qps = best[(system, ef)]
                rows.append(
                    (
                        system,
                        ef,
                        recall_at_k(ids, truth, args.k),
                        qps,
                        batch_qps,
                        built["build_s"],
                        built["index_bytes"],
                        usage.ru_maxrss * 1024,
                    )
                )
        if args.cli:
            print(f"[{name}] geodex-cli ...", file=sys.stderr, flush=True)
            g = geodex(args, work, base, queries, metric, truth)
            for r in g["rows"]:
                rows.append(
                    (
                        "geodex-cli",
                        r["ef"],
                        recall_at_k(r["ids"], truth, args.k),
                        r["qps"],
                        r["batch_qps"],
                        g["build_s"],
                        g["index_bytes"],
                        g["rss_bytes"],
                    )
                )
    write_outputs(args, name, rows)


def smallest_ef(proc, system, target, recall_of, args, work, truth):
    """The smallest ef ≥ k at which `system` reaches `target` recall, by bisection between the
    grid's bracketing points (recall from untimed batch passes; assumes recall grows with ef,
    as it does up to noise); None if the largest grid ef does not reach it."""
    grid = sorted(args.efs)
    above = [ef for ef in grid if recall_of[(system, ef)] >= target]
    if not above:
        return None
    hi = above[0]
    below = [ef for ef in grid if ef < hi]
    lo = below[-1] if below else args.k - 1  # recall(lo) < target, or lo is under every ef
    while hi - lo > 1:
        mid = (lo + hi) // 2
        ask(proc, {"probe": mid})
        ids = np.load(os.path.join(work, f"{system}-probe.npy"))
        if recall_at_k(ids, truth, args.k) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def ask(proc, cmd):
    """Sends one command to a worker (None: just read) and returns its JSON reply."""
    if cmd is not None:
        proc.stdin.write(json.dumps(cmd) + "\n")
        proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("a worker died (see its error above)")
    return json.loads(line)


def write_outputs(args, name, rows):
    os.makedirs(args.out, exist_ok=True)
    csv = os.path.join(args.out, f"peers-{name}.csv")
    with open(csv, "w") as f:
        f.write("system,ef,recall,qps,batch_qps,build_s,index_bytes,rss_bytes\n")
        f.writelines(
            f"{s},{ef},{rec:.4f},{qps:.1f},{bq:.1f},{b:.2f},{ib},{rss}\n"
            for s, ef, rec, qps, bq, b, ib, rss in rows
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    shown = [s for s in SYSTEMS + ["geodex-cli"] if any(r[0] == s for r in rows)]
    for s in shown:
        pts = sorted((r[2], r[3]) for r in rows if r[0] == s)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=s)
    ax.set_yscale("log")
    ax.set_xlabel(f"recall@{args.k}")
    ax.set_ylabel("queries per second (1 thread, log)")
    ax.set_title(f"{name}: M={args.m}, ef_construction={args.efc}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"peers-{name}.png"), dpi=110)
    lines = [
        f"### {name}",
        "",
        "| system | build s | index MB | peak RSS MB | QPS @ ≥0.90 | ≥0.95 | ≥0.99 | batch QPS @ ≥0.95 | ≥0.99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    best = {}
    for s in shown:
        mine = [r for r in rows if r[0] == s]
        cells = []
        for col, targets in ((3, TARGETS), (4, TARGETS[1:])):
            for t in targets:
                q = max((r[col] for r in mine if r[2] >= t and r[col] == r[col]), default=None)
                best[(s, col, t)] = q
                cells.append(f"{q:,.0f}" if q else "—")
        lines.append(
            f"| {s} | {mine[0][5]:.1f} | {mine[0][6] / 1e6:.1f} | {mine[0][7] / 2**20:.0f} | "
            + " | ".join(cells)
            + " |"
        )

    def ratios(col, targets):
        out = []
        for t in targets:
            peer = max((best[(p, col, t)] for p in PEERS if best.get((p, col, t))), default=None)
            g = best.get(("geodex", col, t))
            out.append(f"{g / peer:.2f}×" if g and peer else "—")
        return " / ".join(out)

    smallest = ", ".join(
        s
        + " "
        + "/".join(str(min((r[1] for r in rows if r[0] == s and r[2] >= t), default="—")) for t in TARGETS)
        for s in shown
    )
    lines += ["", f"smallest ef reaching recall {' / '.join(map(str, TARGETS))}: {smallest}"]
    lines += [
        "",
        "geodex QPS / best peer QPS at recall ≥ 0.90 / 0.95 / 0.99 (one query per call): "
        + ratios(3, (0.90, 0.95, 0.99)),
        f"batch ({args.threads} threads) at recall ≥ 0.95 / 0.99: " + ratios(4, (0.95, 0.99)),
        "",
    ]
    with open(os.path.join(args.out, f"peers-{name}.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.path.join(REPO, "..", "shared", "data"))
    p.add_argument("--datasets", default=",".join(DATASETS), help="names under --data-dir or directories")
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--efc", type=int, default=200)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--efs", default="10,16,24,32,48,64,96,128,192,256,384,512")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--no-cli", dest="cli", action="store_false", help="skip the geodex-cli reference row")
    p.add_argument("--worker")
    p.add_argument("--base")
    p.add_argument("--queries")
    p.add_argument("--metric")
    p.add_argument("--workdir")
    args = p.parse_args()
    args.efs = [int(x) for x in str(args.efs).split(",")]
    if args.worker:
        args.system = args.worker
        return worker(args)
    if args.cli:
        subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "geodex-cli"], cwd=REPO, check=True)
    for name in args.datasets.split(","):
        run_dataset(args, name)


if __name__ == "__main__":
    main()
