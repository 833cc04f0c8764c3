#!/usr/bin/env python3
"""Each stopping rule's work against fixed ef at the rule's own recall (ADAPTIVE.md).

`bench/adaptive.py` compares every rule with fixed ef at the same *target*, where the two reach
slightly different recalls; on a set where fixed ef's recall curve is flat (large sets near 0.99)
a small recall difference is a large work difference. This reads a run's `adaptive.json` and a
fine fixed-ef sweep of the same index and test queries (`geodex bench --ef ... > sweep.txt`)
and prints, per (target, rule), the fixed ef's mean distance evaluations at the rule's recall,
linearly interpolated between the two neighbouring efs of the sweep, and the rule's work ÷ that.

    python3 bench/equal_recall.py RUN/adaptive.json RUN/fixed-sweep.txt
"""

from __future__ import annotations

import itertools
import json
import sys


def read_sweep(path: str) -> list[tuple[float, float]]:
    """(recall, mean distance evaluations) per ef of a `geodex bench` table, recall ascending."""
    points = []
    with open(path) as f:
        header = f.readline().split()
        r, d = header.index("recall"), header.index("mean_distances")
        for line in f:
            cols = line.split()
            if len(cols) == len(header):
                points.append((float(cols[r]), float(cols[d])))
    return sorted(points)


def fixed_work_at(points: list[tuple[float, float]], recall: float) -> float | None:
    """Fixed ef's work at `recall` on the sweep's piecewise-linear curve; None outside it."""
    for (r0, d0), (r1, d1) in itertools.pairwise(points):
        if r0 <= recall <= r1:
            return d0 if r1 == r0 else d0 + (recall - r0) / (r1 - r0) * (d1 - d0)
    return None


def main() -> None:
    with open(sys.argv[1]) as f:
        run = json.load(f)
    points = read_sweep(sys.argv[2])
    print("target      rule  recall    dist  fixed dist at that recall  dist/fixed")
    for name, result in run.items():
        print(name)
        for row in result["rows"]:
            fixed = fixed_work_at(points, row["recall"])
            ratio = f"{row['mean_distances'] / fixed:10.3f}" if fixed else "   outside"
            at = f"{fixed:25.0f}" if fixed else f"{'(outside the sweep)':>25}"
            print(
                f"{row['target']:<6} {row['rule']:>9} {row['recall']:.4f} "
                f"{row['mean_distances']:7.0f} {at} {ratio}"
            )


if __name__ == "__main__":
    main()
