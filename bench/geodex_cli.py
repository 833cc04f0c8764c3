"""The `geodex` commands the bench scripts run, in one place: build, ground truth, an ef sweep.

Every call is `geodex <command> … --quiet`; a failing command raises with its stderr.
"""

import json
import subprocess


def run(cmd):
    """stdout of `cmd`; raises CalledProcessError (with stderr captured) when it fails."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def build(geodex, data, out, metric, *extra, m=16, efc=200, seed=42):
    """`geodex build` with M = `m` (a number or "auto"), ef_construction = `efc`, `seed`, plus
    the flags in `extra`; its stdout (the summary when `extra` holds `--json`)."""
    return run(
        [
            geodex,
            "build",
            "--data",
            data,
            "--out",
            out,
            "--metric",
            metric,
            "--m",
            str(m),
            "--ef-construction",
            str(efc),
            "--seed",
            str(seed),
            "--quiet",
            *extra,
        ]
    )


def groundtruth(geodex, data, queries, out, metric, *extra):
    """Exact top-10 of every query (`geodex groundtruth --k 10`)."""
    run(
        [
            geodex,
            "groundtruth",
            "--data",
            data,
            "--queries",
            queries,
            "--k",
            "10",
            "--metric",
            metric,
            "--out",
            out,
            "--quiet",
            *extra,
        ]
    )


def sweep(geodex, index, queries, truth, efs, *extra):
    """The rows of `geodex bench --json` (recall@10, QPS, distances, hops per ef)."""
    return bench(geodex, index, queries, truth, efs, *extra)["rows"]


def bench(geodex, index, queries, truth, efs, *extra):
    """`geodex bench --json` at k 10 over the beam widths `efs` (comma-separated), plus the
    flags in `extra`: the whole report (its `rows` and the run's settings)."""
    out = run(
        [
            geodex,
            "bench",
            "--index",
            index,
            "--queries",
            queries,
            "--groundtruth",
            truth,
            "--k",
            "10",
            "--ef",
            efs,
            "--json",
            "--quiet",
            *extra,
        ]
    )
    return json.loads(out)
