#!/usr/bin/env python3
"""The stopping rules with and without a work budget (`learn-stop --work-cap F`, issue 17's p99
target; ADAPTIVE.md, "A work budget for the tail"), or under any other `learn-stop` options.

Takes the indexes a `bench/adaptive.py --holdout-seed S --work WORK` run left behind (their stop
models learned without a budget), learns the same models again with `--work-cap F` for every F
of --caps (the same options and seed, so only the budget differs; each into WORK/SET-capF.gdx)
and with the extra `learn-stop` arguments of every --variant NAME=ARGS (into WORK/SET-NAME.gdx),
then times `geodex bench --target-recall T --stop R` for every (model, rule) in interleaved rounds,
one search thread, and reports per (set, target, model, rule): recall, mean and p99 distance
evaluations, the mean distance evaluations ÷ fixed ef's at the rule's own recall (a fine fixed-ef
sweep, interpolated as `bench/equal_recall.py` does), and the median QPS and p99 latency ÷ fixed
ef's at the same target in the same rounds.

    python3 bench/work_cap.py --work /tmp/wcap --caps 1.0,0.9 --rounds 15 --runs 5 --out DIR
    python3 bench/work_cap.py --work /tmp/wcap --caps '' --variant 'iv16=--interval 16' ...
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import subprocess
from pathlib import Path

from adaptive import SWEEP_EF, run
from equal_recall import fixed_work_at, read_sweep

HERE = Path(__file__).resolve().parent


def learn_again(args, name: str, model: str, extra: list[str]) -> Path:
    """The set's index with its stop model learned again with the `learn-stop` arguments
    `extra`, as WORK/SET-MODEL.gdx."""
    w = Path(args.work)
    out = w / f"{name}-{model}.gdx"
    if out.exists():
        return out
    learn = next(w.glob(f"{name}-learn.*vecs"))
    run(
        [
            *[args.geodex, "learn-stop", "--index", str(w / f"{name}.gdx"), "--queries", str(learn)],
            *["--groundtruth", str(w / f"{name}-learn-gt.ivecs"), "--target-recall", args.targets],
            *["--gbdt-trees", str(args.gbdt_trees), "--gbdt-rate", str(args.gbdt_rate)],
            *["--adaef-axes", str(args.adaef_axes), "--seed", str(args.seed)],
            *extra,
            *["--out", str(out)],
        ]
    )
    return out


def bench(args, index: Path, queries: Path, truth: Path, rule: str) -> list[dict]:
    csv_path = Path(args.work) / "work-cap.csv"
    run(
        [
            *[args.geodex, "bench", "--index", str(index), "--queries", str(queries)],
            *["--groundtruth", str(truth), "--target-recall", args.targets, "--stop", rule],
            *["--threads", "1", "--runs", str(args.runs), "--csv", str(csv_path), "--quiet"],
        ]
    )
    return list(csv.DictReader(io.StringIO(csv_path.read_text())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, help="a bench/adaptive.py --holdout-seed run's --work")
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--sets", default="minilm-words-20k:fvecs,sift-debian:bvecs")
    ap.add_argument("--caps", default="1.0,0.9", help="work caps F ('' for none): models capF")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=ARGS: a model learned with these extra learn-stop arguments (repeatable)",
    )
    ap.add_argument("--rules", default="patience,learned,gbdt")
    ap.add_argument("--targets", default="0.9,0.95,0.99")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument(
        "--runs",
        type=int,
        default=5,
        help="timed passes per process, the fastest reported (a pass over 1,000 queries is ~30 ms)",
    )
    ap.add_argument("--seed", type=int, default=1, help="the adaptive.py run's --seed")
    ap.add_argument("--gbdt-trees", type=int, default=32)
    ap.add_argument("--gbdt-rate", type=float, default=0.3)
    ap.add_argument("--adaef-axes", type=int, default=32)
    ap.add_argument("--geodex", default=str(HERE.parent / "target" / "release" / "geodex"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    w = Path(args.work)
    variants = {f"cap{c}": ["--work-cap", c] for c in args.caps.split(",") if c}
    for v in args.variant:
        model, _, extra = v.partition("=")
        variants[model] = extra.split()
    rules = args.rules.split(",")
    for item in args.sets.split(","):
        name, ext = item.split(":")
        queries, truth = Path(args.data) / name / f"query.{ext}", w / f"{name}-test-gt.ivecs"
        models = {"none": w / f"{name}.gdx"} | {
            model: learn_again(args, name, model, extra) for model, extra in variants.items()
        }
        runs: dict[tuple[str, str], list[list[dict]]] = {}
        for _ in range(args.rounds):
            runs.setdefault(("-", "fixed"), []).append(bench(args, models["none"], queries, truth, "fixed"))
            for model, index in models.items():
                for rule in rules:
                    runs.setdefault((model, rule), []).append(bench(args, index, queries, truth, rule))
        sweep = run(
            [
                *[args.geodex, "bench", "--index", str(models["none"]), "--queries", str(queries)],
                *["--groundtruth", str(truth), "--ef", SWEEP_EF, "--runs", "1", "--quiet"],
            ]
        )
        (out / f"{name}-fixed-sweep.txt").write_text(sweep)
        points = read_sweep(str(out / f"{name}-fixed-sweep.txt"))
        lines = [
            (
                f"{name}: {args.rounds} interleaved rounds of the fastest of {args.runs} passes, "
                "one search thread; model 'none' = learned without a budget or other options"
            ),
            (
                f"{'target':>6} {'model':>6} {'rule':>9} {'recall':>7} {'dist':>6} {'p99 dist':>8} "
                f"{'dist/fixed@recall':>17} {'QPS/fixed':>9} {'p99µs/fixed':>11} {'p99 µs':>7}"
            ),
        ]
        targets = [r["target_recall"] for r in runs[("-", "fixed")][0]]
        for i, target in enumerate(targets):
            fixed = [rs[i] for rs in runs[("-", "fixed")]]
            fixed_qps = statistics.median(float(r["qps"]) for r in fixed)
            fixed_p99 = statistics.median(float(r["p99_us"]) for r in fixed)
            for (model, rule), rounds in runs.items():
                rows = [rs[i] for rs in rounds]
                first = rows[0]
                recall, dist = float(first["recall"]), float(first["mean_distances"])
                at = fixed_work_at(points, recall)
                ratio = f"{dist / at:>17.3f}" if at else f"{'outside':>17}"
                qps = statistics.median(float(r["qps"]) for r in rows)
                p99 = statistics.median(float(r["p99_us"]) for r in rows)
                lines.append(
                    f"{float(target):>6} {model:>6} {rule:>9} {recall:>7.4f} {dist:>6.0f} "
                    f"{float(first['p99_distances']):>8.0f} {ratio} {qps / fixed_qps:>9.3f} "
                    f"{p99 / fixed_p99:>11.3f} {p99:>7.1f}"
                )
        text = "\n".join(lines) + "\n"
        (out / f"{name}.txt").write_text(text)
        print(text, flush=True)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"{e.cmd[0]} failed: {e.stderr}") from e
