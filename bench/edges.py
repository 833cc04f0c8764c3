#!/usr/bin/env python3
"""Edge rules at equal degree (issue 18, LEARNED.md): distance evaluations at recall@10 0.95 / 0.99.

For each shared set the last 2,000 base rows are the learning queries (their exact 10-NN among
the other rows is the training ground truth) and the index holds the rest; the test queries are
the set's own query file, never seen in training. Per seed:
- `geodex learn-edges` trains scorers (logistic and MLP on progress labels, logistic on path
  labels); each calibrates its threshold so its graph's level-0 mean degree matches the
  heuristic's on a sample;
- `geodex build --edges R` for R in heuristic, vamana:1.2, random, and every learned model;
- `geodex build --edges anneal` (40,000 moves on the learning queries at ef 32; greedy T = 0, the
  logarithmic and the geometric schedule; `--arms anneal-greedy-400k`: greedy with 400,000 moves),
  which rewires the heuristic's graph at its exact degree;
- with `--arms spectral`: the logistic scorer with the spectral regulariser −μ·λ₂/λ₂⁰ (μ 0, 1, 10;
  combinatorial and normalised Laplacian); every built graph's λ₂ (both Laplacians) and sweep
  conductance are measured by `geodex analyze --only spectral`;
- with `--arms sweep`: the logistic scorer trained by Adam and by SGD (momentum 0.9) at mini-batches
  8, 32, 64, 256 and learning rates 0.001 and 0.01;
- with `--arms gnn`: the message-passing scorer over the candidate list (hidden 8 and 16 at depth
  2, hidden 8 at depth 1), on progress labels;
- with `--arms reinforce`: the logistic and MLP scorers fine-tuned by 600 REINFORCE steps on the
  training queries' recall@10 at ef 32 (item 3); with `--arms ode`: the Neural-ODE scorer (item 6,
  width 8, T = 1, RK4 in 4 steps); with `--arms relaxed`: scorers trained on the relaxed set
  objective (straight-through or concrete, τ floor 0.5 or 0.1; item 2);
- with `--arms optimisers`: the MLP trained by plain SGD and by Langevin dynamics at two
  temperatures (same step, 0.05); with `--arms landscape`: `learn-edges --landscape` for the
  logistic and MLP scorers (Hessian spectra and descents, no build);
- `geodex bench --exact-walk` over an ef ladder (one thread): recall@10 and mean distance
  evaluations per query (the walk on the float vectors, so the count is the graph's, not the
  byte codes').
Distances at a recall target are interpolated linearly between the two ladder points around it.

    python3 bench/edges.py --out bench/results/2026-12-01-edges | tee .../summary.txt
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import time
from pathlib import Path

from adaptive import read_vecs, write_vecs

HELD_OUT = 2000
EFS = [10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512]
SETS = [
    ("minilm-words-20k", "base.fvecs", "query.fvecs", "cosine", "fvecs", "<f4"),
    ("sift-debian", "base.bvecs", "query.bvecs", "l2", "bvecs", "u1"),
]
MODELS = [
    ("logistic-progress", ["--model", "logistic", "--labels", "progress"]),
    ("mlp-progress", ["--model", "mlp", "--labels", "progress"]),
    ("logistic-path", ["--model", "logistic", "--labels", "path"]),
]
# Optimiser arms for the MLP (§11.1): plain SGD against Langevin dynamics (SGLD) at the same step.
OPTIMISERS = [
    ("mlp-progress-sgd", ["--model", "mlp", "--labels", "progress", "--optimizer", "sgd", "--momentum", "0"]),
    *[
        (
            f"mlp-progress-langevin-{t}",
            ["--model", "mlp", "--labels", "progress", "--optimizer", "langevin", "--temperature", t],
        )
        for t in ["0.0001", "0.001"]
    ],
]
OPTIMISER_LR = "0.05"
# The spectral regulariser (§5.1, item 4): the logistic progress scorer with −μ·λ₂/λ₂⁰ on either
# Laplacian; μ = 0 only tracks λ₂ (the control with the same code path).
SPECTRAL = [
    (
        f"logistic-progress-spectral-{lap}-{mu}",
        ["--model", "logistic", "--labels", "progress", "--spectral", mu, "--spectral-laplacian", lap],
    )
    for lap in ["combinatorial", "normalized"]
    for mu in ["0", "1", "10"]
]
# Item 3's sweep: the logistic progress scorer by optimiser × mini-batch × learning rate.
SWEEP = [
    (
        f"logistic-progress-{opt}-b{batch}-lr{lr}",
        [
            "--model",
            "logistic",
            "--labels",
            "progress",
            "--optimizer",
            opt,
            "--batch",
            str(batch),
            "--lr",
            lr,
        ],
    )
    for opt in ["adam", "sgd"]
    for batch in [8, 32, 64, 256]
    for lr in ["0.001", "0.01"]
]
# The message-passing scorer over the candidate list (item 1), two widths at depth 2 and a
# one-layer control, all on progress labels like the MLP beside it.
GNNS = [
    (
        f"gnn{layers}-h{hidden}-progress",
        ["--model", "gnn", "--labels", "progress", "--hidden", hidden, "--layers", layers],
    )
    for hidden, layers in [("8", "2"), ("16", "2"), ("8", "1")]
]
# REINFORCE on the training queries' recall at ef 32 (item 3), from the surrogate-trained
# logistic and MLP scorers; and the Neural-ODE scorer (item 6) at T = 1 (4 RK4 steps), width 8.
REINFORCES = [
    (f"{model}-progress-reinforce", ["--model", model, "--labels", "progress", "--reinforce", "600"])
    for model in ["logistic", "mlp"]
]
ODES = [
    ("ode-h8-t1-progress", ["--model", "ode", "--hidden", "8", "--labels", "progress", "--ode-time", "1"])
]
# The relaxed set objective (item 2, THEORY §4.3): straight-through (the build's rule on the
# noisy logits of binary-concrete samples) at the text's τ floor 0.5 and at 0.1, the concrete
# weights themselves, and the MLP.
STRAIGHT = ["--relaxation", "straight-through"]
RELAXED = [
    ("logistic-set-st", ["--model", "logistic", *STRAIGHT]),
    ("logistic-set-st-floor0.1", ["--model", "logistic", *STRAIGHT, "--tau-floor", "0.1"]),
    ("logistic-set-concrete", ["--model", "logistic", "--relaxation", "concrete"]),
    ("mlp-set-st-floor0.1", ["--model", "mlp", *STRAIGHT, "--tau-floor", "0.1"]),
]
# The same with the degree held (arms "held"): each step's gradient projected off the gradient of
# the expected count of kept links, the REINFORCE trainer's projection.
HELD = [
    (f"{name}-hold", [*extra, "--hold-degree"])
    for name, extra in RELAXED
    if name in ("logistic-set-st-floor0.1", "mlp-set-st-floor0.1", "logistic-set-concrete")
]
# Run by name only (so "held" and "reinforce" stay the arms LEARNED.md's tables measured): the MLP
# on the concrete relaxation with the degree held, REINFORCE started from the held logistic rule
# (with --learn-threads 1 its start is exactly the "logistic-set-concrete-hold" model of that seed),
# and REINFORCE started from the two-layer message-passing scorer ("gnn2-h8-progress").
BY_NAME = [
    ("mlp-set-concrete-hold", ["--model", "mlp", "--relaxation", "concrete", "--hold-degree"]),
    (
        "logistic-set-concrete-hold-reinforce",
        ["--model", "logistic", "--relaxation", "concrete", "--hold-degree", "--reinforce", "600"],
    ),
    (
        "gnn2-h8-progress-reinforce",
        ["--model", "gnn", "--labels", "progress", "--hidden", "8", "--layers", "2", "--reinforce", "600"],
    ),
]
# Landscape studies (§4.1–4.2, §8.1): the product's scorers, trained with Adam.
LANDSCAPES = [("logistic", ["--model", "logistic"]), ("mlp", ["--model", "mlp"])]
CONTROLS = ["heuristic", "vamana:1.2", "random"]
ANNEAL_STEPS = 40_000
# (arm, schedule, moves): the three schedules at the standard budget run with `--arms anneal`;
# the ten-times budget (do more touched lists carry the training gain to unseen queries?) by name.
ANNEALS = [
    ("anneal-greedy", "greedy", ANNEAL_STEPS),
    ("anneal-log", "log", ANNEAL_STEPS),
    ("anneal-geometric", "geometric", ANNEAL_STEPS),
]
ANNEALS_BY_NAME = [("anneal-greedy-400k", "greedy", 10 * ANNEAL_STEPS)]


def run(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def prepare(g: str, data: Path, work: Path, name, base, queries, metric, ext, dtype) -> dict:
    b = read_vecs(data / name / base, dtype)
    s = {"name": name, "metric": metric, "queries": str(data / name / queries)}
    s["base"], s["learn"] = str(work / f"{name}-base.{ext}"), str(work / f"{name}-learn.{ext}")
    write_vecs(Path(s["base"]), b[:-HELD_OUT])
    write_vecs(Path(s["learn"]), b[-HELD_OUT:])
    for role, q in [("learn_gt", s["learn"]), ("test_gt", s["queries"])]:
        s[role] = str(work / f"{name}-{role}.ivecs")
        gt = ["groundtruth", "--data", s["base"], "--queries", q, "--k", "10"]
        run([g, *gt, "--metric", metric, "--out", s[role], "--quiet"])
    return s


def prepare_definitions(g: str, data: Path, definitions: Path, work: Path) -> dict:
    """The out-of-distribution track (item 9): minilm-words-20k's whole base against embedded
    dictionary definitions (`bench/make_definitions.py`), learning and test definitions disjoint."""
    s = {
        "name": "minilm-definitions",
        "metric": "cosine",
        "base": str(data / "minilm-words-20k" / "base.fvecs"),
    }
    s["learn"], s["queries"] = str(definitions / "learn.fvecs"), str(definitions / "query.fvecs")
    for role, q in [("learn_gt", s["learn"]), ("test_gt", s["queries"])]:
        s[role] = str(work / f"{s['name']}-{role}.ivecs")
        gt = ["groundtruth", "--data", s["base"], "--queries", q, "--k", "10"]
        run([g, *gt, "--metric", "cosine", "--out", s[role], "--quiet"])
    return s


def at_recall(rows: list[dict], target: float) -> float | None:
    """Mean distance evaluations at `target`, interpolated between the ladder points around it."""
    prev = None
    for r in rows:
        if r["recall"] >= target:
            if prev is None:
                return r["mean_distances"]
            f = (target - prev["recall"]) / (r["recall"] - prev["recall"])
            return prev["mean_distances"] + f * (r["mean_distances"] - prev["mean_distances"])
        prev = r
    return None


def measure(g: str, s: dict, rule: str, seed: int, work: Path, extra: list[str] = ()) -> dict:
    index = str(work / f"{s['name']}-{rule.replace(':', '_').replace('/', '_')}-{seed}.gdx")
    build = ["build", "--data", s["base"], "--metric", s["metric"], "--m", "16", "--seed", str(seed), *extra]
    t0 = time.perf_counter()
    info = json.loads(run([g, *build, "--edges", rule, "--out", index, "--json", "--quiet"]))
    build_s = time.perf_counter() - t0
    out = work / "bench.csv"
    bench = ["bench", "--index", index, "--queries", s["queries"], "--groundtruth", s["test_gt"]]
    run(
        [
            g,
            *bench,
            "--ef",
            ",".join(map(str, EFS)),
            "--exact-walk",
            "--runs",
            "1",
            "--quiet",
            "--csv",
            str(out),
        ]
    )
    rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(io.StringIO(out.read_text()))]
    spectral = json.loads(run([g, "analyze", "--index", index, "--only", "spectral", "--json", "--quiet"]))
    trained = {}
    if rule == "anneal":  # the training queries' cost before and after, as the build recorded it
        info_json = json.loads(run([g, "info", "--index", index, "--json", "--quiet"]))
        trained = {"anneal": info_json["metadata"]["edges"]["report"]}
    Path(index).unlink()
    return {
        **trained,
        "degree": info["level0_mean_degree"],
        "lambda2": spectral["spectral"]["lambda2"],
        "lambda2_normalized": spectral["spectral"]["lambda2_normalized"],
        "conductance": spectral["spectral"]["conductance"],
        "build_s": round(build_s, 2),
        "d95": at_recall(rows, 0.95),
        "d99": at_recall(rows, 0.99),
        "ladder": rows,
    }


# Arguments every learn-edges run gets (`--learn-threads`).
LEARN_EXTRA: list[str] = []


def learn(g: str, s: dict, name: str, extra: list[str], seed: int, work: Path) -> tuple[str, dict]:
    model = str(work / f"{s['name']}-{name}-{seed}.json")
    cmd = ["learn-edges", "--data", s["base"], "--metric", s["metric"], "--queries", s["learn"]]
    cmd += [
        "--groundtruth",
        s["learn_gt"],
        "--out",
        model,
        "--seed",
        str(seed),
        "--json",
        *extra,
        *LEARN_EXTRA,
    ]
    t0 = time.perf_counter()
    report = json.loads(run([g, *cmd]))
    report["learn_s"] = round(time.perf_counter() - t0, 1)
    return model, report


def cell(mine: list[dict], key: str, digits: int = 0) -> str:
    """Mean (min–max) of `key` over the seeds' rows; says how many seeds reached it when some did not."""
    vals = [r[key] for r in mine if r[key] is not None]
    if not vals:
        return "not reached"
    partial = f", {len(vals)} of {len(mine)} seeds" if len(vals) < len(mine) else ""
    return f"{sum(vals) / len(vals):.{digits}f} ({min(vals):.{digits}f}–{max(vals):.{digits}f}{partial})"


def ratio(mine: list[dict], heuristic: dict, key: str) -> str:
    """Mean over the seeds of `key` divided by the heuristic's at the same seed: the heuristic built
    in the same results directory when there is one, else the first listed."""
    pairs = [
        (r[key], (heuristic.get((r["dir"], r["set"], r["seed"])) or heuristic[(r["set"], r["seed"])])[key])
        for r in mine
        if (r["set"], r["seed"]) in heuristic
    ]
    vals = [a / b for a, b in pairs if a is not None and b]
    return f"{sum(vals) / len(vals):.3f}" if vals else "—"


def results_rows(dirs: list[str]) -> list[dict]:
    """Every row of each directory's `results.json`, tagged with its directory under "dir"."""
    return [{**r, "dir": d} for d in dirs for r in json.loads((Path(d) / "results.json").read_text())]


def table(dirs: list[str]) -> None:
    """Prints the LEARNED.md table: per set and rule, the mean over seeds (min–max) of each measure.
    A seed listed twice is two training runs (e.g. a surrogate start measured beside REINFORCE)."""
    rows = results_rows(dirs)
    heuristic: dict[tuple, dict] = {}
    for r in rows:
        if r["rule"] == "heuristic":
            heuristic.setdefault((r["set"], r["seed"]), r)
            heuristic[(r["dir"], r["set"], r["seed"])] = r
    print(
        "| set | rule | seeds | level-0 degree | dists @0.95 | × heuristic | dists @0.99 | × heuristic | build s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["set"], r["rule"]) for r in rows}, key=lambda k: (k[0], k[1] != "heuristic", k[1]))
    for name, rule in keys:
        mine = [r for r in rows if r["set"] == name and r["rule"] == rule]
        if rule == "heuristic":  # the reference of each seed, once
            mine = [r for r in mine if heuristic[(r["set"], r["seed"])] is r]
        seeds = ",".join(str(r["seed"]) for r in mine)
        print(
            f"| {name} | {rule} | {seeds} | {cell(mine, 'degree', 2)} | {cell(mine, 'd95')} "
            f"| {ratio(mine, heuristic, 'd95')} | {cell(mine, 'd99')} | {ratio(mine, heuristic, 'd99')} "
            f"| {cell(mine, 'build_s', 1)} |"
        )


def fit_table(dirs: list[str]) -> None:
    """Prints how well each trained scorer fits its surrogate: per set and model, the mean over
    seeds of the last epoch's validation loss and, on the held-out training nodes, the share of
    positive candidates kept, the demand coverage and the links kept per list, with the training
    seconds (from the `*.report.json` files)."""
    print(
        "| set | model | seeds | validation loss | positives kept | demand coverage | kept per list | learn s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    groups: dict[tuple, list] = {}
    for d in dirs:
        for f in sorted(Path(d).glob("*.report.json")):
            set_name = next(spec[0] for spec in SETS if f.name.startswith(spec[0] + "-"))
            rest = f.name.removeprefix(set_name + "-").removesuffix(".report.json")
            model, _, seed = rest.rpartition("-")
            groups.setdefault((set_name, model), []).append((int(seed), json.loads(f.read_text())))
    mean = lambda xs: sum(xs) / len(xs)
    for (set_name, model), mine in sorted(groups.items()):
        seeds = ", ".join(str(s) for s, _ in sorted(mine))
        reports = [r for _, r in mine]
        cells = [
            mean([r["history"][-1]["validation_loss"] for r in reports]),
            mean([r["learned"]["positives_kept"] for r in reports]),
            mean([r["learned"]["demand_coverage"] for r in reports]),
            mean([r["learned"]["mean_kept"] for r in reports]),
        ]
        learn = mean([r["learn_s"] for r in reports])
        print(
            f"| {set_name} | {model} | {seeds} | {cells[0]:.3f} | {cells[1]:.3f} | {cells[2]:.3f} "
            f"| {cells[3]:.1f} | {learn:.0f} |"
        )


def spectral_table(dirs: list[str]) -> None:
    """Prints the LEARNED.md spectral table: per set, Laplacian and μ, the soft graph's λ₂ in
    training (first and last epoch, mean over seeds), the built graph's λ₂ of both Laplacians and
    the distance evaluations against the heuristic at the same seed."""
    rows = [(Path(d), r) for d in dirs for r in json.loads((Path(d) / "results.json").read_text())]
    # A learned rule is compared with the heuristic built in its own run (directory) where that run
    # built one, else with the first heuristic of its set and seed: multi-threaded builds differ
    # slightly from run to run.
    heuristic_in = {(d, r["set"], r["seed"]): r for d, r in rows if r["rule"] == "heuristic"}
    heuristic: dict[tuple, dict] = {}
    for _, r in rows:
        if r["rule"] == "heuristic":
            heuristic.setdefault((r["set"], r["seed"]), r)
    baseline = lambda d, r: heuristic_in.get((d, r["set"], r["seed"])) or heuristic[(r["set"], r["seed"])]
    print(
        "| set | Laplacian | μ | seeds | soft λ₂ first → last epoch | participation last | judged / soft degree last | "
        "built λ₂(L) | built λ₂(𝓛) | dists @0.95 × heuristic | @0.99 × heuristic |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    mean = lambda xs: sum(xs) / len(xs)
    groups: dict[tuple, list] = {}
    for d, r in rows:
        if "spectral" in r["rule"] or (r["rule"] == "heuristic" and heuristic[(r["set"], r["seed"])] is r):
            name = r["rule"].removeprefix("learned:")
            groups.setdefault((r["set"], name), []).append((d, r))
    for (set_name, name), mine in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "heuristic", kv[0][1])
    ):
        seeds = ", ".join(str(r["seed"]) for _, r in mine)
        built = f"{mean([r['lambda2'] for _, r in mine]):.3f} | {mean([r['lambda2_normalized'] for _, r in mine]):.4f}"
        ratios = [f"{mean([r[k] / baseline(d, r)[k] for d, r in mine]):.3f}" for k in ("d95", "d99")]
        if name == "heuristic":
            print(f"| {set_name} | heuristic | — | {seeds} | — | — | — | {built} | 1.000 | 1.000 |")
            continue
        history = [
            json.loads((d / f"{set_name}-{name}-{r['seed']}.report.json").read_text())["history"]
            for d, r in mine
        ]
        first = mean([h[0]["spectral"]["lambda2"] for h in history])
        last = mean([h[-1]["spectral"]["lambda2"] for h in history])
        part = mean([h[-1]["spectral"]["participation"] for h in history])
        judged = mean(
            [h[-1]["spectral"]["arcs"]["judged"] for h in history if "arcs" in h[-1]["spectral"]] or [0]
        )
        soft = mean(
            [h[-1]["spectral"]["arcs"]["soft_degree"] for h in history if "arcs" in h[-1]["spectral"]] or [0]
        )
        laplacian, mu = name.split("-spectral-")[1].rsplit("-", 1)
        print(
            f"| {set_name} | {laplacian} | {mu} | {seeds} | {first:.4g} → {last:.4g} | {part:.2g} | "
            f"{judged:.1f} / {soft:.1f} | {built} | "
            f"{ratios[0]} | {ratios[1]} |"
        )


def sweep_table(dirs: list[str]) -> None:
    """Prints the LEARNED.md sweep table: per optimiser and mini-batch, for each learning rate the
    final validation loss and the distance evaluations at 0.95 / 0.99 against the heuristic (the
    first one of that set and seed in `dirs`, so a sweep run without its own heuristic names the
    directory that holds one after its own)."""
    rows = results_rows(dirs)
    heuristic: dict[tuple, dict] = {}
    for r in rows:
        if r["rule"] == "heuristic":
            heuristic.setdefault((r["set"], r["seed"]), r)
    rates = [lr for lr in dict.fromkeys(n.rsplit("-lr", 1)[1] for n, _ in SWEEP)]
    print(
        "| set | optimiser | batch | "
        + " | ".join(f"lr {lr}: val. loss, × heur. @0.95 / @0.99" for lr in rates)
        + " |"
    )
    print("|---|---|---|" + "---|" * len(rates))
    names = {f"learned:{n}" for n, _ in SWEEP}
    swept = {(r["set"], r["seed"]) for r in rows if r["rule"] in names}
    for (set_name, seed), h in sorted(heuristic.items()):
        if (set_name, seed) not in swept:
            continue
        for opt in dict.fromkeys(n.split("-")[2] for n, _ in SWEEP):
            for batch in dict.fromkeys(int(n.split("-b")[1].split("-")[0]) for n, _ in SWEEP):
                cells = []
                for lr in rates:
                    name = f"logistic-progress-{opt}-b{batch}-lr{lr}"
                    mine = (
                        r
                        for r in rows
                        if r["set"] == set_name and r["rule"] == f"learned:{name}" and r["seed"] == seed
                    )
                    r = next(mine, None)
                    if r is None or r["d95"] is None:
                        cells.append("—")
                        continue
                    report = json.loads(
                        (Path(r["dir"]) / f"{set_name}-{name}-{seed}.report.json").read_text()
                    )
                    loss = report["history"][-1]["validation_loss"]
                    d99 = f"{r['d99'] / h['d99']:.3f}" if r["d99"] else "—"
                    cells.append(f"{loss:.3f}, {r['d95'] / h['d95']:.3f} / {d99}")
                print(f"| {set_name} (seed {seed}) | {opt} | {batch} | " + " | ".join(cells) + " |")


def landscape_table(d: str) -> None:
    """Prints the LEARNED.md landscape table from the `*-landscape-*.json` reports in `d`: per set,
    scorer and point, the frozen loss, ‖∇L‖, the Hessian's extreme eigenvalues, how many are
    negative, and (descents) how many passes raised the loss."""
    print("| set | scorer (params) | point | loss | ‖∇L‖ | λ_min | λ_max | negative | passes that rose |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in sorted(Path(d).glob("*-landscape-*.json")):
        name, rest = f.stem.split("-landscape-")
        scorer = rest.rsplit("-", 1)[0]
        r = json.loads(f.read_text())
        land = r["landscape"]
        points = [("initial", land["at_init"], ""), ("trained (Adam, DAgger)", land["at_trained"], "")]
        points[1] = (*points[1][:2], f"{land['training_increases']} of {len(r['history']) - 1} epochs")
        points += [
            (x["method"], x["end"], f"{x['increases']} of {len(x['curve']) - 1}") for x in land["descents"]
        ]
        for point, sp, rose in points:
            print(
                f"| {name} | {scorer} ({land['parameters']}) | {point} | {sp['loss']:.4f} | {sp['gradient_norm']:.1e} "
                f"| {sp['min']:.2e} | {sp['max']:.2e} | {sp['negative']} | {rose} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", nargs="+", help="print the table of these results directories and stop")
    ap.add_argument("--landscape-table", help="print the landscape table of this results directory and stop")
    ap.add_argument(
        "--spectral-table", nargs="+", help="print the spectral table of these results directories and stop"
    )
    ap.add_argument(
        "--fit-table", nargs="+", help="print the surrogate-fit table of these results directories and stop"
    )
    ap.add_argument(
        "--sweep-table",
        nargs="+",
        help="print the optimiser sweep table of these results directories and stop",
    )
    ap.add_argument("--geodex", default="target/release/geodex")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--work", default="/tmp/edges-bench")
    ap.add_argument("--out")
    ap.add_argument("--seeds", default="42,7,1")
    ap.add_argument(
        "--learn-threads",
        type=int,
        help="threads of learn-edges (1: every model a function of its seed, so arms that share a "
        "surrogate training start from the same scorer)",
    )
    ap.add_argument(
        "--sets",
        default="minilm-words-20k,sift-debian",
        help="comma-separated; minilm-definitions (needs --definitions) is the out-of-distribution track",
    )
    ap.add_argument("--definitions", help="output directory of bench/make_definitions.py")
    ap.add_argument(
        "--arms",
        default="controls,learned,anneal",
        help="comma-separated: controls (or one of them), learned, anneal, optimisers, spectral, sweep, gnn, "
        "reinforce, ode, relaxed, held (or one of their arms by name; learned, anneal, gnn, reinforce, ode, "
        "relaxed and held too), landscape",
    )
    args = ap.parse_args()
    if args.learn_threads:
        LEARN_EXTRA.extend(["--threads", str(args.learn_threads)])
    if args.table:
        return table(args.table)
    if args.landscape_table:
        return landscape_table(args.landscape_table)
    if args.sweep_table:
        return sweep_table(args.sweep_table)
    if args.spectral_table:
        return spectral_table(args.spectral_table)
    if args.fit_table:
        return fit_table(args.fit_table)
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    sets = args.sets.split(",")
    prepared = [prepare(args.geodex, Path(args.data), work, *spec) for spec in SETS if spec[0] in sets]
    if "minilm-definitions" in sets:
        prepared.append(prepare_definitions(args.geodex, Path(args.data), Path(args.definitions), work))
    for s in prepared:
        for seed in map(int, args.seeds.split(",")):
            arms = args.arms.split(",")
            rules = [(c, c, None, []) for c in CONTROLS if "controls" in arms or c in arms]
            for name, extra in [m for m in MODELS if "learned" in arms or m[0] in arms]:
                model, report = learn(args.geodex, s, name, extra, seed, work)
                (out / f"{s['name']}-{name}-{seed}.report.json").write_text(json.dumps(report, indent=1))
                rules.append((f"learned:{name}", f"learned:{model}", report, []))
            for name, extra in OPTIMISERS if "optimisers" in arms else []:
                model, report = learn(args.geodex, s, name, [*extra, "--lr", OPTIMISER_LR], seed, work)
                (out / f"{s['name']}-{name}-{seed}.report.json").write_text(json.dumps(report, indent=1))
                rules.append((f"learned:{name}", f"learned:{model}", report, []))
            for name, extra in [
                *[a for a in SPECTRAL if "spectral" in arms or a[0] in arms],
                *[a for a in SWEEP if "sweep" in arms or a[0] in arms],
                *[a for a in GNNS if "gnn" in arms or a[0] in arms],
                *[a for a in REINFORCES if "reinforce" in arms or a[0] in arms],
                *[a for a in ODES if "ode" in arms or a[0] in arms],
                *[a for a in RELAXED if "relaxed" in arms or a[0] in arms],
                *[a for a in HELD if "held" in arms or a[0] in arms],
                *[a for a in BY_NAME if a[0] in arms],
            ]:
                model, report = learn(args.geodex, s, name, extra, seed, work)
                (out / f"{s['name']}-{name}-{seed}.report.json").write_text(json.dumps(report, indent=1))
                rules.append((f"learned:{name}", f"learned:{model}", report, []))
            for name, extra in LANDSCAPES if "landscape" in arms else []:
                _, report = learn(args.geodex, s, f"landscape-{name}", [*extra, "--landscape"], seed, work)
                (out / f"{s['name']}-landscape-{name}-{seed}.json").write_text(json.dumps(report, indent=1))
                print(f"{s['name']:18} seed {seed:3} landscape {name} done", flush=True)
            for name, schedule, steps in [
                *[a for a in ANNEALS if "anneal" in arms or a[0] in arms],
                *[a for a in ANNEALS_BY_NAME if a[0] in arms],
            ]:
                training = ["--queries", s["learn"], "--groundtruth", s["learn_gt"]]
                extra = [*training, "--anneal-schedule", schedule, "--anneal-steps", str(steps)]
                rules.append((name, "anneal", None, extra))
            for label, rule, report, extra in rules:
                m = measure(args.geodex, s, rule, seed, work, extra)
                row = {
                    "set": s["name"],
                    "seed": seed,
                    "rule": label,
                    **{k: v for k, v in m.items() if k != "ladder"},
                }
                if report is not None:
                    row["learn_s"] = report["learn_s"]
                results.append({**row, "ladder": m["ladder"]})
                fmt = lambda v: "—" if v is None else f"{v:.0f}"
                print(
                    f"{s['name']:18} seed {seed:3} {label:26} degree {m['degree']:6.2f}  "
                    f"dists@0.95 {fmt(m['d95']):>6}  dists@0.99 {fmt(m['d99']):>6}  build {m['build_s']:6.2f} s  "
                    f"λ₂ {m['lambda2']:.3f} / {m['lambda2_normalized']:.4f}",
                    flush=True,
                )
                (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
