#!/usr/bin/env python3
"""Hierarchy embeddings trained to convergence (issue 22, item 1): for each model and dimension,
`geodex embed --validation` chooses the learning rate, its schedule and the epoch count on
held-out closure pairs, trains on all pairs with the choice, and `geodex embed-eval` measures the result
(reconstruction MAP on a node sample, distortion, Poincaré / L2 HNSW search).

Every run checkpoints (`--checkpoint … --resume`), so the script can be stopped and started
again: finished runs are skipped, an unfinished one continues from its last checkpoint.

    python3 bench/convergence.py --edges /tmp/wn/noun_closure.tsv --runs poincare:10:0.3 \\
        euclidean:10:0.3,1 --schedules constant,linear --epochs 500 --work /tmp/conv \\
        --out bench/results/DATE-convergence
"""

import argparse
import json
import os
import subprocess
import sys


def run_json(cmd, log):
    """Runs a geodex command with --json; its stderr goes to `log`, its stdout is parsed."""
    with open(log, "a") as err:
        err.write("$ " + " ".join(cmd) + "\n")
        err.flush()
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=err, text=True).stdout
    return json.loads(out)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def embed(a, model, dim, lrs, tag):
    cmd = [
        a.geodex,
        "embed",
        "--edges",
        a.edges,
        "--model",
        model,
        "--dim",
        str(dim),
        "--lr",
        lrs,
        "--lr-schedule",
        a.schedules,
        "--epochs",
        str(a.epochs),
        "--validation",
        str(a.validation),
        "--eval-every",
        str(a.eval_every),
        "--patience",
        str(a.patience),
        "--validation-sample",
        str(a.validation_sample),
        "--seed",
        str(a.seed),
        *(["--threads", str(a.threads)] if a.threads else []),
        "--checkpoint",
        os.path.join(a.work, f"{tag}.ck"),
        "--resume",
        "--out",
        os.path.join(a.work, f"{tag}.fvecs"),
        "--names",
        os.path.join(a.work, f"{tag}.names"),
        "--json",
    ]
    return run_json(cmd, os.path.join(a.work, f"{tag}.log"))


def evaluate(a, model, tag):
    cmd = [
        a.geodex,
        "embed-eval",
        "--edges",
        a.edges,
        "--embedding",
        os.path.join(a.work, f"{tag}.fvecs"),
        "--names",
        os.path.join(a.work, f"{tag}.names"),
        "--model",
        model,
        "--json",
        "--quiet",
        *a.eval_args.split(),
    ]
    return run_json(cmd, os.path.join(a.work, f"{tag}.log"))


def row(emb, ev):
    d = emb["details"]
    v = d["validation"]
    search = ev.get("search", {})
    by_ef = {r["ef"]: r["recall"] for r in search.get("by_ef", [])}
    return (
        f"| {emb['model']} | {emb['dim']} | {v['chosen_lr']} {v['chosen_lr_schedule']} | {v['chosen_epochs']} | "
        f"{v['chosen_map']:.3f} | **{ev['map']:.3f}** | {ev['mean_rank']:.2f} | {ev['map_graph']:.3f} | "
        f"{ev['distortion_avg']:.3f} | {d['seconds_per_epoch']:.2f} | {d['sampling_share']:.2f} | "
        f"{search.get('m', '–')} | {' / '.join(f'{by_ef[e]:.3f}' for e in sorted(by_ef)) or '–'} |"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--geodex", default="target/release/geodex")
    p.add_argument("--edges", required=True, help="closure TSV")
    p.add_argument("--runs", nargs="+", required=True, help="MODEL:DIM:LR[,LR…]")
    p.add_argument("--epochs", type=int, default=500, help="the most epochs a validation run may take")
    p.add_argument("--schedules", default="constant,linear", help="learning-rate schedules to choose from")
    p.add_argument("--validation", type=float, default=0.02)
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--validation-sample", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=0, help="training threads (0: all cores; 1 is reproducible)"
    )
    p.add_argument(
        "--eval-args",
        default="--sample 2000 --sources 100 --ef 10,32 --queries 2000",
        help="passed to geodex embed-eval",
    )
    p.add_argument("--work", required=True, help="checkpoints, embeddings, logs")
    p.add_argument("--out", required=True, help="result JSON and convergence.md")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for spec in a.runs:
        model, dim, lrs = spec.split(":")
        tag = f"{model}-d{dim}"
        emb_path, eval_path = (os.path.join(a.out, f"{tag}-{kind}.json") for kind in ("embed", "eval"))
        if not os.path.exists(emb_path):
            write_json(emb_path, embed(a, model, int(dim), lrs, tag))
        if not os.path.exists(eval_path):
            write_json(eval_path, evaluate(a, model, tag))
        rows.append(row(read_json(emb_path), read_json(eval_path)))
        print(rows[-1], flush=True)
    head = (
        "| model | d | lr, schedule (chosen) | epochs (chosen) | held-out MAP | reconstruction MAP | mean rank | "
        "graph MAP | distortion avg | s/epoch | sampling share | HNSW M | recall@10 by ef |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    with open(os.path.join(a.out, "convergence.md"), "w") as f:
        f.write(head + "\n".join(rows) + "\n")
    print(f"wrote {a.out}/convergence.md", file=sys.stderr)


if __name__ == "__main__":
    main()
