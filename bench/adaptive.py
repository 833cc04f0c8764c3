#!/usr/bin/env python3
"""Per-query stopping rules against fixed ef at equal mean recall (issue 17, ADAPTIVE.md).

For each data set: builds the index, makes learning queries that are never the test queries,
computes their ground truth with `geodex groundtruth`, runs `geodex learn-stop`, then runs
`geodex bench --target-recall T --stop R` for every rule R of --rules (the PPO rule trained by
`learn-stop --ppo` when it is among them; the gbdt rule's trees by `learn-stop --gbdt-trees`,
the gain rule's by `learn-stop --gain-trees`) in interleaved rounds (one search thread) and reports per (target, rule) the median over rounds of QPS and p99 latency, and the
round-invariant work and recall: mean and p99 distance evaluations, mean recall, share of
queries below recall 0.8, and distance evaluations relative to the fixed rule.

Learning queries:
- minilm-words-20k: 2,000 rows of a disjoint word set (`make_minilm_words.py --offset 25000`,
  the minilm-words-200k base; pass its directory with --minilm-learn-source), or without it the
  last 2,000 base rows held out like SIFT's (base and query words come from one shuffled list);
- sift-debian: the last 2,000 base rows, held out — the index is built on the first 98,000 and
  the test queries' ground truth recomputed for it. Held-out base rows come from the base
  images, the test queries from other images: a distribution shift the note reports.
  `--holdout-seed S` holds out a seeded draw of rows instead; with `--holdout-photos` (sift-debian,
  `bench/sift_images.py`) rows of whole held-out photos, drawn as the generator drew the test
  queries. `bench/adaptive_spread.py` compares such runs.

Other sets: `--sets DIR:METRIC,...` (directories in TEXMEX layout under --data or absolute); a
set other than minilm-words-20k with a learn source holds out base rows like SIFT's.

    python3 bench/adaptive.py --out bench/results/2026-11-30-adaptive \
        --minilm-learn-source /work/data-local/minilm-words-200k | tee .../summary.txt
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RULES = ["fixed", "patience", "ada", "adaef", "learned", "ppo", "gbdt", "gain", "epsilon"]
# Fixed ef in steps of 2–8, so bench/equal_recall.py interpolates between close neighbours.
SWEEP_EF = ",".join(str(e) for e in [*range(10, 64, 2), *range(64, 128, 4), *range(128, 257, 8)])


def read_vecs(path: Path, dtype: str) -> np.ndarray:
    raw = np.fromfile(path, dtype=np.uint8)
    dim = int(np.frombuffer(raw[:4].tobytes(), "<i4")[0])
    size = np.dtype(dtype).itemsize
    rows = raw.reshape(-1, 4 + dim * size)[:, 4:]
    return np.frombuffer(rows.tobytes(), dtype=dtype).reshape(-1, dim)


def write_vecs(path: Path, a: np.ndarray) -> None:
    n, dim = a.shape
    header = np.full((n, 1), dim, "<i4").view(np.uint8)
    body = np.ascontiguousarray(a).view(np.uint8).reshape(n, -1)
    np.concatenate([header, body], axis=1).tofile(path)


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def held_out_photos(photo_of_row: np.ndarray, learn: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learning queries drawn as sift-debian's generator (`make_sift.py`) drew its test queries:
    whole photos in a seeded order, a tenth of them or more until they hold 3 × `learn` rows,
    then `learn` of their rows uniformly (so a large photo gives more queries); every row of
    those photos leaves the base. Returns (held rows, removed rows), sorted. `photo_of_row` is
    −1 for a row of unknown photo (kept in the base)."""
    rng = np.random.default_rng(seed)
    photos = rng.permutation(np.unique(photo_of_row[photo_of_row >= 0]))
    sizes = np.bincount(photo_of_row[photo_of_row >= 0])[photos]
    taken = photos[: max(len(photos) // 10, int(np.searchsorted(np.cumsum(sizes), 3 * learn)) + 1)]
    removed = np.flatnonzero(np.isin(photo_of_row, taken))
    if len(removed) < learn:
        raise ValueError(f"the photos hold fewer than {learn} rows")
    return np.sort(rng.choice(removed, learn, replace=False)), removed


def held_out(
    g: str,
    d: Path,
    name: str,
    ext: str,
    dtype: str,
    metric: str,
    learn: int,
    work: Path,
    seed: int | None = None,
    photo_of_row: np.ndarray | None = None,
) -> dict:
    """The set with `learn` base rows held out as learning queries — the last ones, or with a
    `seed` a uniform draw of rows (the rest keep their order), or with `photo_of_row` too rows
    of whole photos (`held_out_photos`) — and the test queries' ground truth recomputed for the
    remaining base."""
    base = read_vecs(d / f"base.{ext}", dtype)
    kept = np.ones(len(base), dtype=bool)
    if photo_of_row is not None:
        held, removed = held_out_photos(photo_of_row, learn, 0 if seed is None else seed)
        kept[removed] = False
    elif seed is None:
        held = np.arange(len(base) - learn, len(base))
    else:
        held = np.sort(np.random.default_rng(seed).choice(len(base), learn, replace=False))
    kept[held] = False
    write_vecs(work / f"{name}-base.{ext}", base[kept])
    write_vecs(work / f"{name}-learn.{ext}", base[held])
    test_gt = work / f"{name}-test-gt.ivecs"
    run(
        [
            g,
            "groundtruth",
            "--data",
            str(work / f"{name}-base.{ext}"),
            "--queries",
            str(d / f"query.{ext}"),
            "--k",
            "100",
            "--metric",
            metric,
            "--out",
            str(test_gt),
            "--quiet",
        ]
    )
    return {
        "name": d.name,
        "base": work / f"{name}-base.{ext}",
        "metric": metric,
        "learn": work / f"{name}-learn.{ext}",
        "test": d / f"query.{ext}",
        "test_gt": test_gt,
    }


def prepare(args, work: Path) -> list[dict]:
    g, data = args.geodex, Path(args.data)
    sets = []
    for item in args.sets.split(","):
        where, metric = item.rsplit(":", 1)
        d = data / where
        ext, dtype = ("bvecs", "u1") if (d / "base.bvecs").exists() else ("fvecs", "<f4")
        if d.name == "minilm-words-20k" and args.minilm_learn_source:
            # Learning queries from a disjoint word set.
            learn = read_vecs(Path(args.minilm_learn_source) / "base.fvecs", "<f4")
            rows = np.random.default_rng(5).choice(len(learn), args.learn, replace=False)
            write_vecs(work / "minilm-learn.fvecs", learn[rows])
            sets.append(
                {
                    "name": d.name,
                    "base": d / "base.fvecs",
                    "metric": metric,
                    "learn": work / "minilm-learn.fvecs",
                    "test": d / "query.fvecs",
                    "test_gt": d / "groundtruth.ivecs",
                }
            )
        else:
            # Held-out base rows (MiniLM's base and query words are one shuffled list: the same
            # distribution; SIFT's queries come from other images).
            photos = np.load(args.holdout_photos) if args.holdout_photos and d.name == "sift-debian" else None
            sets.append(
                held_out(g, d, d.name, ext, dtype, metric, args.learn, work, args.holdout_seed, photos)
            )
    for d in sets:
        d["index"] = work / f"{d['name']}.gdx"
        d["learn_gt"] = work / f"{d['name']}-learn-gt.ivecs"
        run(
            [
                g,
                "build",
                "--data",
                str(d["base"]),
                "--metric",
                d["metric"],
                "--out",
                str(d["index"]),
                "--quiet",
            ]
        )
        run(
            [
                g,
                "groundtruth",
                "--data",
                str(d["base"]),
                "--queries",
                str(d["learn"]),
                "--k",
                "100",
                "--metric",
                d["metric"],
                "--out",
                str(d["learn_gt"]),
                "--quiet",
            ]
        )
    return sets


def without_law_vectors(learned: dict) -> dict:
    """learn-stop's report with the adaef law's per-dimension vectors replaced by their lengths
    (they are in the index file; kept in the report they make it a megabyte)."""
    law = learned.get("model", {}).get("adaef", {}).get("law")
    if law:
        for key in ("mean", "norm_cov", "axes"):
            law[key] = f"{len(law[key])} values, in the index file"
    return learned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument(
        "--sets",
        default="minilm-words-20k:cosine,sift-debian:l2",
        help="DIR:METRIC,... (TEXMEX directories under --data, or absolute paths)",
    )
    ap.add_argument(
        "--minilm-learn-source",
        help="a disjoint MiniLM word set (default: held-out base rows)",
    )
    ap.add_argument("--geodex", default=str(HERE.parent / "target" / "release" / "geodex"))
    ap.add_argument("--learn", type=int, default=2000)
    ap.add_argument("--targets", default="0.9,0.95,0.99")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42, help="learn-stop's split and PPO seed")
    ap.add_argument(
        "--holdout-seed",
        type=int,
        help="hold out a seeded uniform draw of base rows as learning queries instead of the last ones",
    )
    ap.add_argument(
        "--holdout-photos",
        help="sift-debian's image_of_row.npy (bench/sift_images.py): hold out rows of whole photos, "
        "as the test queries come from photos the base does not hold (seeded by --holdout-seed)",
    )
    ap.add_argument(
        "--sweep-ef",
        default=SWEEP_EF,
        help="fixed ef sweep written beside the report (SET-fixed-sweep.txt) for bench/equal_recall.py",
    )
    ap.add_argument("--rules", default=",".join(RULES), help="rules compared (fixed always)")
    ap.add_argument("--gbdt-trees", type=int, default=100)
    ap.add_argument("--gbdt-depth", type=int, default=4)
    ap.add_argument("--gbdt-rate", type=float, default=0.1)
    ap.add_argument("--gain-trees", type=int, default=32)
    ap.add_argument("--gain-depth", type=int, default=4)
    ap.add_argument("--gain-rate", type=float, default=0.3)
    ap.add_argument("--adaef-warmup", type=int, default=64)
    ap.add_argument("--adaef-quantile-step", type=float, default=0.001)
    ap.add_argument("--adaef-axes", type=int, default=32)
    ap.add_argument(
        "--work",
        default="/tmp/geodex-adaptive-work",
        help="indexes and derived files (large)",
    )
    args = ap.parse_args()
    rules = ["fixed"] + [r for r in RULES if r != "fixed" and r in args.rules.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sets = prepare(args, work)
    report = {}
    for d in sets:
        learned = json.loads(
            run(
                [
                    args.geodex,
                    "learn-stop",
                    "--index",
                    str(d["index"]),
                    "--queries",
                    str(d["learn"]),
                    "--groundtruth",
                    str(d["learn_gt"]),
                    "--target-recall",
                    args.targets,
                    *(["--ppo"] if "ppo" in rules else []),
                    "--gbdt-trees",
                    str(args.gbdt_trees if "gbdt" in rules else 0),
                    "--gbdt-depth",
                    str(args.gbdt_depth),
                    "--gbdt-rate",
                    str(args.gbdt_rate),
                    "--gain-trees",
                    str(args.gain_trees if "gain" in rules else 0),
                    "--gain-depth",
                    str(args.gain_depth),
                    "--gain-rate",
                    str(args.gain_rate),
                    "--adaef-warmup",
                    str(args.adaef_warmup),
                    "--adaef-quantile-step",
                    str(args.adaef_quantile_step),
                    "--adaef-axes",
                    str(args.adaef_axes),
                    "--seed",
                    str(args.seed),
                    "--json",
                ]
            )
        )
        rows: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.rounds):
            for rule in rules:
                csv_path = work / "t.csv"
                run(
                    [
                        args.geodex,
                        "bench",
                        "--index",
                        str(d["index"]),
                        "--queries",
                        str(d["test"]),
                        "--groundtruth",
                        str(d["test_gt"]),
                        "--target-recall",
                        args.targets,
                        "--stop",
                        rule,
                        "--runs",
                        "1",
                        "--csv",
                        str(csv_path),
                        "--quiet",
                    ]
                )
                for r in csv.DictReader(io.StringIO(csv_path.read_text())):
                    rows.setdefault((r["target_recall"], rule), []).append(r)
        table = []
        for (target, rule), rs in sorted(
            rows.items(), key=lambda kv: (float(kv[0][0]), RULES.index(kv[0][1]))
        ):
            fixed = rows[(target, "fixed")][0]

            def med(col: str, rs: list[dict] = rs) -> float:
                return statistics.median(float(r[col]) for r in rs)

            table.append(
                {
                    "target": float(target),
                    "rule": rule,
                    "ef": int(rs[0]["ef"]),
                    "recall": float(rs[0]["recall"]),
                    "mean_distances": float(rs[0]["mean_distances"]),
                    "p99_distances": float(rs[0]["p99_distances"]),
                    "share_below_08": float(rs[0]["share_below_0.8"]),
                    "qps": med("qps"),
                    "p99_us": med("p99_us"),
                    "distances_vs_fixed": float(rs[0]["mean_distances"]) / float(fixed["mean_distances"]),
                    "qps_vs_fixed": med("qps")
                    / statistics.median(float(r["qps"]) for r in rows[(target, "fixed")]),
                }
            )
        report[d["name"]] = {"learn": without_law_vectors(learned), "rows": table}
        sweep = run(
            [
                *[args.geodex, "bench", "--index", str(d["index"]), "--queries", str(d["test"])],
                *["--groundtruth", str(d["test_gt"]), "--ef", args.sweep_ef, "--runs", "1", "--quiet"],
            ]
        )
        (out / f"{d['name']}-fixed-sweep.txt").write_text(sweep)
        print(f"\n{d['name']} (cap recall {learned['cap_recall']:.4f}; {args.rounds} interleaved rounds)")
        print(
            f"{'target':>6} {'rule':>9} {'ef':>4} {'recall':>7} {'dist':>7} {'p99 dist':>8} {'<0.8':>6} "
            f"{'QPS':>7} {'p99 µs':>7} {'dist/fixed':>10} {'QPS/fixed':>9}"
        )
        for r in table:
            print(
                f"{r['target']:>6} {r['rule']:>9} {r['ef']:>4} {r['recall']:>7.4f} {r['mean_distances']:>7.0f} "
                f"{r['p99_distances']:>8.0f} {r['share_below_08']:>6.3f} {r['qps']:>7.0f} {r['p99_us']:>7.1f} "
                f"{r['distances_vs_fixed']:>10.3f} {r['qps_vs_fixed']:>9.3f}"
            )
        for t in learned.get("ppo", []):
            print(
                f"ppo cost {t['cost']:<5} reward {t['final_reward']:.4f}; as trained recall {t['raw_recall']:.4f} "
                f"at work {t['raw_work']:.3f}; calibrated to {t['selection_target']}: "
                f"{t['selection_distances']:.1f} distances{'  (kept)' if t['chosen'] else ''}"
            )
    (out / "adaptive.json").write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out / 'adaptive.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
