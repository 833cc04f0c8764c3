#!/usr/bin/env python3
"""The adaef rule with different distance laws on one build (ADAPTIVE.md, "Ada-ef itself").

Reads a `bench/adaptive.py --work WORK --out RUN` run (its indexes, learning queries and test
ground truth in WORK, its fixed-ef sweeps in RUN). For each set and each `--axes` count the index
is copied, its stop model re-learned with `learn-stop --adaef-axes A` (same seed and targets,
no trees), and the adaef rule benchmarked on the test queries; the index's own model (the one
adaptive.py learned) is benchmarked too, as `as-built`. Work is compared with fixed ef at the
rule's own recall on RUN's sweep (`bench/equal_recall.py`). Work and recall are deterministic for
an index and a model, so one pass suffices.

    python3 bench/adaef_laws.py --work /tmp/adef-1 --run RUN --seed 1 --axes 64,32 \\
        --geodex-as-built OLD_GEODEX
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from equal_recall import fixed_work_at, read_sweep

HERE = Path(__file__).resolve().parent
SETS = {"sift-debian": "bvecs", "minilm-words-20k": "fvecs"}


def bench(geodex: str, index: Path, queries: Path, gt: Path, targets: str) -> list[tuple[str, float, float]]:
    """(target, recall, mean distance evaluations) of the adaef rule."""
    out = subprocess.run(
        [geodex, "bench", "--index", str(index), "--queries", str(queries), "--groundtruth", str(gt)]
        + ["--target-recall", targets, "--stop", "adaef", "--threads", "1", "--runs", "1", "--quiet"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    header = out[0].split()
    rows = [line.split() for line in out[1:] if line.split() and line.split()[0][0].isdigit()]
    t, r, d = header.index("target"), header.index("recall"), header.index("mean_distances")
    return [(row[t], float(row[r]), float(row[d])) for row in rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--geodex", default=str(HERE.parent / "target" / "release" / "geodex"))
    ap.add_argument("--geodex-as-built", help="binary to bench the index's own model with")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--axes", default="64,32")
    ap.add_argument("--targets", default="0.9,0.95,0.99")
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()
    work, run = Path(args.work), Path(args.run)
    print(f"{'set':<18} {'law':>9} {'target':>6} {'recall':>7} {'dist':>7} {'dist/fixed':>10}")
    for name in args.sets.split(","):
        index = work / f"{name}.gdx"
        queries = Path(args.data) / name / f"query.{SETS[name]}"
        gt = work / f"{name}-test-gt.ivecs"
        sweep = read_sweep(str(run / f"{name}-fixed-sweep.txt"))
        arms = [("as-built", args.geodex_as_built or args.geodex, index)]
        for axes in args.axes.split(","):
            copy = work / f"{name}-axes-{axes}.gdx"
            shutil.copyfile(index, copy)
            subprocess.run(
                [
                    args.geodex,
                    "learn-stop",
                    "--index",
                    str(copy),
                    "--queries",
                    str(work / f"{name}-learn.{SETS[name]}"),
                ]
                + ["--groundtruth", str(work / f"{name}-learn-gt.ivecs"), "--target-recall", args.targets]
                + [
                    "--gbdt-trees",
                    "0",
                    "--gain-trees",
                    "0",
                    "--adaef-axes",
                    axes,
                    "--seed",
                    str(args.seed),
                    "--quiet",
                ],
                check=True,
                capture_output=True,
            )
            arms.append((f"{axes} axes", args.geodex, copy))
        for label, geodex, idx in arms:
            for target, recall, dist in bench(geodex, idx, queries, gt, args.targets):
                fixed = fixed_work_at(sweep, recall)
                ratio = f"{dist / fixed:>10.3f}" if fixed else f"{'—':>10}"
                print(f"{name:<18} {label:>9} {target:>6} {recall:>7.4f} {dist:>7.0f} {ratio}", flush=True)


if __name__ == "__main__":
    main()
