#!/usr/bin/env python3
"""Do the learned stopping rules beat the controls by more than the spread over learning sets?

Issue 17 counts a learned rule as better only if it beats both the patience and the Ada-ef
controls by more than the run-to-run spread. Work and recall are deterministic for one index and
one model, so the spread that matters is over what changes between runs: which base rows are
held out as learning queries (and so the index built on the rest), learn-stop's split seed, and
the build (a multi-threaded build differs run to run). Each RUN directory is one
`bench/adaptive.py --holdout-seed S --seed S [--holdout-photos …]` run (its `adaptive.json` and
`SET-fixed-sweep.txt`). Every rule's work is taken at equal recall: its mean distance evaluations
÷ fixed ef's at the recall the rule reached, interpolated on that run's fixed-ef sweep
(`bench/equal_recall.py`).

Per set and target, the table gives each rule's ratio in every run, its range, the range of the
mean recall it reached on the test queries, and that recall less fixed ef's in the same run (the
error the rule adds to the learning set's own: fixed ef calibrated on the same learning queries
misses by what they misjudge the test queries). A learned rule beats a control beyond the spread
when its worst run is below the control's best run (the two ranges do not overlap); the verdict
names the rules that beat both controls so. Last, each pair of learned rules is compared run by
run (same index, same learning queries).

    python3 bench/adaptive_spread.py RUN1 RUN2 ... [--learned learned,gbdt] [--controls patience,ada]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from equal_recall import fixed_work_at, read_sweep


def ratios(run: Path) -> dict[tuple[str, float, str], tuple[float, float]]:
    """(set, target, rule) → (the rule's work ÷ fixed ef's at the rule's recall, that recall),
    for one run."""
    report = json.loads((run / "adaptive.json").read_text())
    out = {}
    for name, result in report.items():
        points = read_sweep(str(run / f"{name}-fixed-sweep.txt"))
        for row in result["rows"]:
            fixed = fixed_work_at(points, row["recall"])
            if fixed:
                out[(name, row["target"], row["rule"])] = (row["mean_distances"] / fixed, row["recall"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--learned", default="learned,gbdt")
    ap.add_argument("--controls", default="patience,ada")
    args = ap.parse_args()
    learned, controls = args.learned.split(","), args.controls.split(",")
    per_run = [ratios(r) for r in args.runs]
    keys = sorted({(s, t) for r in per_run for (s, t, _) in r})
    print(f"work ÷ fixed ef's at equal recall; runs: {', '.join('/'.join(r.parts[-2:]) for r in args.runs)}")
    for s, t in keys:
        print(f"\n{s} at target {t}")
        ranges = {}
        for rule in ["fixed", *controls, *learned]:
            values = [r.get((s, t, rule), (None, None))[0] for r in per_run]
            got = [v for v in values if v is not None]
            if not got:
                continue
            recalls = [r[(s, t, rule)][1] for r in per_run if (s, t, rule) in r]
            offsets = [
                r[(s, t, rule)][1] - r[(s, t, "fixed")][1]
                for r in per_run
                if (s, t, rule) in r and (s, t, "fixed") in r
            ]
            ranges[rule] = (min(got), max(got))
            cells = " ".join(f"{v:6.3f}" if v is not None else "     -" for v in values)
            print(
                f"  {rule:>9} {cells}   range {min(got):.3f}–{max(got):.3f}"
                f"   recall {min(recalls):.4f}–{max(recalls):.4f}"
                f", less fixed's {min(offsets):+.4f}…{max(offsets):+.4f}"
            )
        winners = [
            rule
            for rule in learned
            if rule in ranges and all(c in ranges and ranges[rule][1] < ranges[c][0] for c in controls)
        ]
        print(f"  beats {' and '.join(controls)} beyond the spread: {', '.join(winners) or 'none'}")
        for a, b in itertools.combinations([r for r in learned if r in ranges], 2):
            diffs = [r[(s, t, a)][0] - r[(s, t, b)][0] for r in per_run if (s, t, a) in r and (s, t, b) in r]
            if diffs:
                print(
                    f"  {a} − {b} in the same run: {min(diffs):+.3f}…{max(diffs):+.3f}, "
                    f"{a} lower in {sum(d < 0 for d in diffs)} of {len(diffs)}"
                )


if __name__ == "__main__":
    main()
