#!/usr/bin/env python3
"""`geodex tune` against a grid sweep (issue 17 item 5, ADAPTIVE.md "Choosing the parameters").

For each shared set: the last 2,000 base rows are held out as learning queries and the index is
built on the rest (the test queries' ground truth recomputed for it). `geodex tune
--target-recall T --build` chooses M, ef_construction and ef from the learning queries alone;
then, on the test queries (never seen by tune):
- the recall tune's choice achieves, against its stated interval;
- a grid sweep: every M in {8, 12, 16, 24, 32, 48} × ef_construction in {100, 200, 400} built on
  the same rows, each benchmarked over an ef ladder (one thread);
- the grid's fastest configuration reaching the target, and the fastest reaching the recall
  tune achieved, re-timed in interleaved rounds beside tune's choice (median QPS).

    python3 bench/tune.py --out bench/results/2026-12-01-tune | tee .../summary.txt
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

from adaptive import read_vecs, write_vecs

GRID_M = [8, 12, 16, 24, 32, 48]
GRID_EFC = [100, 200, 400]
EFS = [10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256]
HELD_OUT = 2000


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def prepare(args, work: Path) -> list[dict]:
    g, data = args.geodex, Path(args.data)
    sets = []
    for name, base, queries, metric, ext, dtype in [
        ("minilm-words-20k", "base.fvecs", "query.fvecs", "cosine", "fvecs", "<f4"),
        ("sift-debian", "base.bvecs", "query.bvecs", "l2", "bvecs", "u1"),
    ]:
        d = data / name
        b = read_vecs(d / base, dtype)
        s = {"name": name, "metric": metric, "queries": str(d / queries)}
        s["base"] = str(work / f"{name}-base.{ext}")
        s["learn"] = str(work / f"{name}-learn.{ext}")
        write_vecs(Path(s["base"]), b[:-HELD_OUT])
        write_vecs(Path(s["learn"]), b[-HELD_OUT:])
        s["gt"] = str(work / f"{name}-test-gt.ivecs")
        run(
            [
                g,
                "groundtruth",
                "--data",
                s["base"],
                "--queries",
                s["queries"],
                "--k",
                "100",
                "--metric",
                metric,
                "--out",
                s["gt"],
                "--quiet",
            ]
        )
        sets.append(s)
    return sets


def bench(g: str, s: dict, index: str, efs: list[int], runs: int = 1) -> list[dict]:
    out = run(
        [
            g,
            "bench",
            "--index",
            index,
            "--queries",
            s["queries"],
            "--groundtruth",
            s["gt"],
            "--ef",
            ",".join(map(str, efs)),
            "--runs",
            str(runs),
            "--quiet",
            "--json",
        ]
    )
    return json.loads(out)["rows"]


def fastest_reaching(grid: list[dict], recall: float) -> dict | None:
    """The grid configuration and ef with the highest QPS among rows at recall ≥ `recall`."""
    best = None
    for cfg in grid:
        for row in cfg["rows"]:
            if row["recall"] >= recall - 1e-12 and (best is None or row["qps"] > best["qps"]):
                best = {
                    "m": cfg["m"],
                    "ef_construction": cfg["ef_construction"],
                    "index": cfg["index"],
                    **row,
                }
    return best


def one_set(args, s: dict, work: Path, out: Path) -> dict:
    g, name = args.geodex, s["name"]
    params, tuned = out / f"{name}-params.json", str(work / f"{name}-tuned.gdx")
    start = time.time()
    run(
        [
            g,
            "tune",
            "--data",
            s["base"],
            "--metric",
            s["metric"],
            "--queries",
            s["learn"],
            "--target-recall",
            str(args.target),
            "--out",
            str(params),
            "--build",
            tuned,
            "--quiet",
        ]
    )
    tune_s = time.time() - start
    p = json.loads(params.read_text())
    achieved = bench(g, s, tuned, [p["ef"]], runs=3)[0]
    grid = []
    for m in GRID_M:
        for efc in GRID_EFC:
            index = str(work / f"{name}-m{m}-efc{efc}.gdx")
            t = time.time()
            run(
                [
                    g,
                    "build",
                    "--data",
                    s["base"],
                    "--metric",
                    s["metric"],
                    "--m",
                    str(m),
                    "--ef-construction",
                    str(efc),
                    "--out",
                    index,
                    "--quiet",
                ]
            )
            grid.append(
                {
                    "m": m,
                    "ef_construction": efc,
                    "index": index,
                    "build_s": time.time() - t,
                    "rows": bench(g, s, index, EFS),
                }
            )
    at_target = fastest_reaching(grid, args.target)
    at_achieved = fastest_reaching(grid, achieved["recall"])
    contenders = {"tune": (tuned, p["ef"])}
    for label, best in [("grid@target", at_target), ("grid@achieved", at_achieved)]:
        if best is not None:
            contenders[label] = (best["index"], best["ef"])
    qps: dict[str, list[float]] = {k: [] for k in contenders}
    recall: dict[str, float] = {}
    for _ in range(args.rounds):
        for label, (index, ef) in contenders.items():
            row = bench(g, s, index, [ef], runs=3)[0]
            qps[label].append(row["qps"])
            recall[label] = row["recall"]
    med = {k: statistics.median(v) for k, v in qps.items()}
    result = {
        "set": name,
        "target": args.target,
        "tune_seconds": tune_s,
        "choice": {
            k: p[k]
            for k in [
                "m",
                "ef_construction",
                "ef",
                "quant",
                "rerank",
                "predicted_recall",
                "recall_interval",
                "holdout_recall",
                "intrinsic_dimension",
                "prior_m",
                "batch",
                "reached",
            ]
        },
        "test_recall": achieved["recall"],
        "inside_interval": p["recall_interval"][0] <= achieved["recall"] <= p["recall_interval"][1],
        "grid_best_at_target": at_target
        and {k: at_target[k] for k in ["m", "ef_construction", "ef", "recall"]},
        "grid_best_at_achieved": at_achieved
        and {k: at_achieved[k] for k in ["m", "ef_construction", "ef", "recall"]},
        "median_qps": med,
        "recall_in_rounds": recall,
        "qps_ratio_vs_grid_at_target": med["tune"] / med["grid@target"] if "grid@target" in med else None,
        "qps_ratio_vs_grid_at_achieved": med["tune"] / med["grid@achieved"]
        if "grid@achieved" in med
        else None,
        "grid": [{k: c[k] for k in ["m", "ef_construction", "build_s", "rows"]} for c in grid],
    }
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--geodex", default=str(Path(__file__).resolve().parent.parent / "target/release/geodex"))
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent.parent / "shared/data"))
    ap.add_argument("--work", default="/tmp/tune-bench")
    ap.add_argument("--out", required=True)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    for s in prepare(args, work):
        r = one_set(args, s, work, out)
        c = r["choice"]
        print(
            f"{r['set']}: tune chose M {c['m']} ef_construction {c['ef_construction']} ef {c['ef']} "
            f"(ID {c['intrinsic_dimension']:.1f}, prior M {c['prior_m']}) in {r['tune_seconds']:.0f} s; "
            f"predicted {c['predicted_recall']:.4f} in [{c['recall_interval'][0]:.4f}, "
            f"{c['recall_interval'][1]:.4f}], holdout {c['holdout_recall']:.4f}, "
            f"test {r['test_recall']:.4f} ({'inside' if r['inside_interval'] else 'OUTSIDE'})"
        )
        for label in ["grid_best_at_target", "grid_best_at_achieved"]:
            b = r[label]
            if b:
                print(
                    f"  {label}: M {b['m']} ef_construction {b['ef_construction']} ef {b['ef']} "
                    f"recall {b['recall']:.4f}"
                )
        print("  median QPS over rounds: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["median_qps"].items()))
        print(
            f"  tune / grid@target {r['qps_ratio_vs_grid_at_target']:.3f}, "
            f"tune / grid@achieved {r['qps_ratio_vs_grid_at_achieved']:.3f}"
        )


if __name__ == "__main__":
    main()
