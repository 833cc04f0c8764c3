#!/usr/bin/env python3
"""The Neural-ODE edge scorer's solvers as the integration time grows (issue 18 item 6, LEARNED.md).

On minilm-words-20k (the training split of bench/edges.py: the last 2,000 base rows are the
learning queries), `geodex learn-edges --model ode --hidden 8` trains one scorer per arm on a
reduced budget (--max-examples 2000, 8 epochs, threshold calibrated on 4,000 rows) so the grid
fits the machine; the fixed-depth message-passing network (gnn, 1 and 2 layers at width 8, which
bracket the ode's parameter count) trains beside it on the same budget. Per arm the report
gives the accuracy (the validation loss on held-out training nodes, mean of the last 3
epochs) and, on 400 validation lists judged by the trained scorer (`flow_cost`), the forward
effort, the tape back-propagation keeps, the adjoint's augmented state, the one-thread
seconds of each backward pass, how far the adjoint gradient lies from the back-propagated one,
and how far the logits lie from a Dormand-Prince solve at 1e-10.

Arms: RK4 at step 0.25 (2, 4, 8, 16 steps for T = 0.5 … 4) and Dormand-Prince 5(4) at 1e-3
(T = 0.5 … 8), both trained by back-propagation; the adjoint as the training gradient at T = 1
and 4 (RK4) and T = 4 (Dormand-Prince).

    python3 bench/ode_flow.py --out bench/results/2026-12-02-ode/flow
    python3 bench/ode_flow.py --table bench/results/2026-12-02-ode/flow
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edges import SETS, prepare, run

BUDGET = ["--max-examples", "2000", "--epochs", "8", "--calibration-rows", "4000", "--labels", "progress"]


def ode(t: float, solver: str, gradient: str = "backprop") -> tuple[str, list[str]]:
    if solver == "rk4":
        spec = ["--ode-solver", "rk4", "--ode-steps", str(round(4 * t))]
    else:
        spec = ["--ode-solver", "dopri5", "--ode-tolerance", "1e-3"]
    name = f"ode-{solver}-{gradient}-t{t:g}"
    return name, ["--model", "ode", "--hidden", "8", "--ode-time", str(t), "--ode-gradient", gradient, *spec]


# In the order they run: the cheap and the decisive first, the long horizons last.
ARMS = [
    ode(0.5, "rk4"),
    ode(1, "rk4"),
    ("gnn1-h8", ["--model", "gnn", "--hidden", "8", "--layers", "1"]),
    ("gnn2-h8", ["--model", "gnn", "--hidden", "8", "--layers", "2"]),
    ode(1, "dopri5"),
    ode(1, "rk4", "adjoint"),
    ode(2, "rk4"),
    ode(4, "dopri5"),
    ode(4, "dopri5", "adjoint"),
    ode(0.5, "dopri5"),
    ode(2, "dopri5"),
    ode(8, "dopri5"),
    ode(4, "rk4"),
    ode(4, "rk4", "adjoint"),
]


def learn(g: str, s: dict, name: str, extra: list[str], seed: int, work: Path, threads: int) -> dict:
    model = work / f"ode-flow-{name}-{seed}.json"
    cmd = ["learn-edges", "--data", s["base"], "--metric", s["metric"], "--queries", s["learn"]]
    cmd += ["--groundtruth", s["learn_gt"], "--out", str(model), "--seed", str(seed), "--json"]
    cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    report = json.loads(run([g, *cmd, *BUDGET, *extra]))
    report["learn_s"] = round(time.perf_counter() - t0, 1)
    report["params"] = len(json.loads(model.read_text())["params"])
    report["arm"] = extra
    return report


def table(d: Path) -> None:
    print(
        "| arm | params | validation loss (last 3 epochs) | learn s | steps / cand. | evals / cand. | tape floats / cand. "
        "| adjoint floats | backprop s | adjoint s | adjoint grad. error | logit error |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for f in sorted(d.glob("*.report.json")):
        r = json.loads(f.read_text())
        c = r.get("flow_cost")
        losses = [h["validation_loss"] for h in r["history"][-3:]]
        loss = sum(losses) / len(losses)
        head = f"| {f.name.removesuffix('.report.json')} | {r['params']} | {loss:.4f} | {r['learn_s']:.0f} "
        if c is None:
            print(head + "| — | — | — | — | — | — | — | — |")
            continue
        print(
            head + f"| {c['steps_per_candidate']:.1f} | {c['evaluations_per_candidate']:.1f} "
            f"| {c['tape_floats_per_candidate']:.0f} | {c['peak_adjoint_floats']} | {c['backprop_seconds']:.2f} "
            f"| {c['adjoint_seconds']:.2f} | {c['adjoint_gradient_error']:.1e} | {c['logit_error']:.1e} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--geodex", default="target/release/geodex")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--work", default="/tmp/edges-bench")
    ap.add_argument("--out", default="bench/results/ode-flow")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--learn-threads",
        type=int,
        default=1,
        help="threads of learn-edges (1, the default: the surrogate's DAgger roll-outs, and so each "
        "arm's scorer, are a function of the seed; on 2 threads two arms integrating the same flow "
        "to 1e-4 differed by 0.09 in validation loss)",
    )
    ap.add_argument(
        "--arms", default="", help="comma-separated arm names (default: all); arms with a report are skipped"
    )
    ap.add_argument("--table", help="print the table of a results directory and exit")
    a = ap.parse_args()
    if a.table:
        table(Path(a.table))
        return
    out, work = Path(a.out), Path(a.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    s = prepare(a.geodex, Path(a.data), work, *SETS[0])
    chosen = set(filter(None, a.arms.split(",")))
    for name, extra in ARMS:
        done = out / f"{name}-{a.seed}.report.json"
        if (chosen and name not in chosen) or done.exists():
            continue
        report = learn(a.geodex, s, name, extra, a.seed, work, a.learn_threads)
        done.write_text(json.dumps(report, indent=1))
        print(name, report["learn_s"], "s", flush=True)
    table(out)


if __name__ == "__main__":
    main()
