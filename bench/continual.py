#!/usr/bin/env python3
"""Continual learning of the stopping model under drift (issue 17 item 4, THEORY §5.3).

For each shared set: the last `--learn` base rows are held out as learning queries (never a
benchmark's test queries); of the rest, the first 80 % are indexed and the last 20 % inserted
later. Ground truth of the learning queries is computed for both bases with `geodex
groundtruth`. Then, per seed, `geodex continual` runs two drifts — the learning queries split
into k-means topics presented one after another, and the same queries before and after the
20 % insert — over every arm (frozen, naive fine-tuning, EWC per λ, replay per share, EWC +
replay, retraining from scratch) and reports forgetting and the final state. The seed moves
the topics, the fit/calibration/test split, the shuffles and the replay draws; the index is
built once per set (seed 42).

    python3 bench/continual.py --out bench/results/2026-12-01-continual --seeds 42,7,1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path

from adaptive import read_vecs, write_vecs
from geodex_cli import build, groundtruth

HERE = Path(__file__).resolve().parent
SETS = [
    ("minilm-words-20k", "fvecs", "<f4", "cosine"),
    ("sift-debian", "bvecs", "u1", "l2"),
]


def prepare(g: str, data: Path, name: str, ext: str, dtype: str, metric: str, learn: int, work: Path) -> dict:
    """Files of one set: index on 80 % of the non-held-out base, the 20 % to insert, the
    learning queries and their ground truth before and after the insert."""
    base = read_vecs(data / name / f"base.{ext}", dtype)
    rest, queries = base[: len(base) - learn], base[len(base) - learn :]
    first = round(0.8 * len(rest))
    files = {
        k: work / f"{name}-{k}.{e}"
        for k, e in [("first", ext), ("insert", ext), ("rest", ext), ("learn", ext)]
    }
    write_vecs(files["first"], rest[:first])
    write_vecs(files["insert"], rest[first:])
    write_vecs(files["rest"], rest)
    write_vecs(files["learn"], queries)
    index = work / f"{name}.gdx"
    build(g, str(files["first"]), str(index), metric)
    gt = {}
    for when, b in [("before", files["first"]), ("after", files["rest"])]:
        gt[when] = work / f"{name}-learn-gt-{when}.ivecs"
        groundtruth(g, str(b), str(files["learn"]), str(gt[when]), metric)
    return {
        "name": name,
        "index": index,
        "learn": files["learn"],
        "insert": files["insert"],
        "gt": gt,
        "indexed": first,
        "inserted": len(rest) - first,
    }


def continual(g: str, s: dict, seed: int, topics: int, target: float) -> dict:
    out = subprocess.run(
        [
            g,
            "continual",
            "--index",
            str(s["index"]),
            "--queries",
            str(s["learn"]),
            "--groundtruth",
            str(s["gt"]["before"]),
            "--insert",
            str(s["insert"]),
            "--insert-groundtruth",
            str(s["gt"]["after"]),
            "--topics",
            str(topics),
            "--target-recall",
            str(target),
            "--seed",
            str(seed),
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def measures(study: dict, arm: dict) -> dict[str, float]:
    """One arm's numbers: forgetting of the excess loss, the first task's and the last task's
    final excess loss above their own exact fit (stability, plasticity), all in millinats, and
    the final mean |recall − target| and work."""
    tasks, last = study["tasks"], arm["stages"][-1]
    return {
        "forgetting mnat": 1000 * arm["forgetting_loss"],
        "first-task gap mnat": 1000 * (last["loss"][0] - tasks[0]["optimum_loss"]),
        "last-task gap mnat": 1000 * (last["loss"][-1] - tasks[-1]["optimum_loss"]),
        "recall error forgetting": arm["forgetting_recall"],
        "final recall error": arm["final_recall_error"],
        "final work": arm["final_work"],
    }


def summary(results: dict[str, dict[int, dict]]) -> str:
    """Per set and drift, per arm: mean [min, max] over seeds of `measures`."""
    lines = []
    for name, by_seed in results.items():
        seeds = sorted(by_seed)
        for si, study in enumerate(by_seed[seeds[0]]["studies"]):
            lines.append(f"\n{name}, drift {study['drift']} — seeds {seeds}, mean [min, max]\n")
            cols = list(measures(study, study["arms"][0]))
            lines.append("| arm | " + " | ".join(cols) + " |")
            lines.append("|---" * (len(cols) + 1) + "|")
            for ai, arm in enumerate(study["arms"]):
                per_seed = [
                    measures(by_seed[s]["studies"][si], by_seed[s]["studies"][si]["arms"][ai]) for s in seeds
                ]
                cells = []
                for c in cols:
                    v = [m[c] for m in per_seed]
                    digits = 2 if "mnat" in c else 4
                    cells.append(
                        f"{statistics.mean(v):.{digits}f} [{min(v):.{digits}f}, {max(v):.{digits}f}]"
                    )
                lines.append(f"| {arm['arm']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--geodex", default=str(HERE.parent / "target" / "release" / "geodex"))
    ap.add_argument("--learn", type=int, default=4000)
    ap.add_argument("--topics", type=int, default=4)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--seeds", default="42,7,1")
    ap.add_argument("--sets", default=",".join(s[0] for s in SETS))
    ap.add_argument("--table", action="store_true", help="only summarise the JSON files already in --out")
    args = ap.parse_args()
    out = Path(args.out)
    if args.table:
        results: dict[str, dict[int, dict]] = {}
        for f in sorted(out.glob("*-seed*.json")):
            name, seed = f.stem.rsplit("-seed", 1)
            results.setdefault(name, {})[int(seed)] = json.loads(f.read_text())
        print(summary(results))
        return
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    wanted = args.sets.split(",")
    results = {}
    for name, ext, dtype, metric in SETS:
        if name not in wanted:
            continue
        s = prepare(args.geodex, Path(args.data), name, ext, dtype, metric, args.learn, work)
        results[name] = {}
        for seed in [int(x) for x in args.seeds.split(",")]:
            r = continual(args.geodex, s, seed, args.topics, args.target)
            r["indexed"], r["inserted"] = s["indexed"], s["inserted"]
            (out / f"{name}-seed{seed}.json").write_text(json.dumps(r, indent=1))
            results[name][seed] = r
            print(f"{name} seed {seed} done", flush=True)
    text = summary(results)
    (out / "summary.md").write_text(text + "\n")
    print(text)
    for p in work.iterdir():
        p.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
